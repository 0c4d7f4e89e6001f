"""``resourceStatus`` on the generated catalogue types (``Product``, ``Category``, custom
kinds): the status controllers wrote, beside the spec the KV serves.

(Not ``status``: that is a spec field of products, ``spec.status``.) Who sees what:

* a caller who may read the repository's DRAFT channel (its namespace's people) sees the
  whole status;
* anyone else (a storefront reading LIVE of a public repository) sees only the top-level
  status properties the kind's ``statusSchema`` marks ``x-gitstore-storefront: true``
  (``domain.resources.status_schema``), or null when none is marked.

Null when the resource store has no such resource. The rights are decided once per request
and repository (``ctx.cache``). Reads go to the resource store, one per resource (fine for
pages of tens; a storefront needing status on long lists should mark few fields and expect
the projection to carry them in a later version: docs/resources.md).
"""

from __future__ import annotations

from typing import Any

from gitstore.domain.errors import GitStoreError

from ..context import context_of
from ..graphql.info import ResolveInfo
from . import access


def status_resolver(storefront: tuple[str, ...]) -> Any:
    """The resolver of ``resourceStatus`` for a kind whose storefront fields are these."""

    async def resolve(resource: Any, info: ResolveInfo) -> dict[str, Any] | None:
        ctx = context_of(info)
        key = ("resource-status-full", resource.repository)
        full = ctx.cache.get(key)
        if full is None:
            try:
                await access.readable(ctx.services.store, ctx.principal, resource.repository)
                full = True
            except GitStoreError:
                full = False
            ctx.cache[key] = full
        if not full and not storefront:
            return None
        stored = await ctx.services.resources().get(
            resource.repository, resource.kind, resource.name
        )
        if stored is None:
            return None
        if full:
            return stored.status
        return {k: stored.status[k] for k in storefront if k in stored.status}

    return resolve
