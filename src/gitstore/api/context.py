"""The per-request context every resolver receives as ``info.context``.

It carries the request id (also in logs and the ``X-Request-Id`` response header), the
authenticated :class:`Principal` (None when anonymous), the app's services and a scratch
``cache`` dict for per-request memoisation (e.g. loaders), and on a store endpoint the
repository it serves (``repository``). Resolvers ask it for the caller:

* ``ctx.actor()``: the principal, checked for the scope this operation needs (``read`` for
  queries, ``write`` for mutations), or None when anonymous. Use it when anonymous callers
  are allowed or when the domain action decides (it raises ``Unauthenticated`` itself);
* ``ctx.require_principal()``: the same, but anonymous is ``Unauthenticated`` (HTTP 401);
* ``ctx.require_admin()``: additionally ``PermissionDenied`` unless the caller is an admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitstore.domain.errors import PermissionDenied, Unauthenticated

from .graphql.info import ResolveInfo
from .identity.principal import Principal

if TYPE_CHECKING:
    from .services import ApiServices

AUTH_REQUIRED = "authentication required: send Authorization: Bearer <token>"


@dataclass
class RequestContext:
    request_id: str
    services: ApiServices
    principal: Principal | None = None
    operation_type: str = "query"  # "query" | "mutation" | "subscription"
    cache: dict[Any, Any] = field(default_factory=dict)
    # ``<namespace>/<repo>`` on a store endpoint (``/<namespace>/<repo>/graphql``), else None
    repository: str | None = None

    def actor(self) -> Principal | None:
        principal = self.principal
        if principal is None:
            return None
        needed = "write" if self.operation_type == "mutation" else "read"
        if not principal.allows(needed):
            raise PermissionDenied(f"this access token lacks the {needed!r} scope")
        return principal

    def require_principal(self) -> Principal:
        principal = self.actor()
        if principal is None:
            raise Unauthenticated(AUTH_REQUIRED)
        return principal

    def require_admin(self) -> Principal:
        principal = self.require_principal()
        if not principal.is_admin:
            raise PermissionDenied("only an admin may do this")
        return principal


def context_of(info: ResolveInfo) -> RequestContext:
    context = info.context
    if not isinstance(context, RequestContext):
        raise TypeError("GraphQL resolvers must run with a RequestContext")
    return context
