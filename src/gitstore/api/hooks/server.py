"""The API's ``HookService`` gRPC server: the git service asks it who and whether.

The git service owns git; the API owns users, keys, permissions and repository settings, so
every decision about a git request is taken here:

* ``AuthenticateSshKey(public_key, fingerprint)``: the key registered under that fingerprint
  (``get_ssh_key_by_fingerprint``), whose stored ``"<type> <base64>"`` must equal the presented
  key, of a user that exists and is not disabled; answers ``username`` and ``key_id`` and
  records the key's last use (at most once a minute). Unknown key or a key that does not match
  its fingerprint: ``NOT_FOUND``; a disabled user: ``PERMISSION_DENIED``.
* ``AuthorizeGit(username, repository_id, access)``: the Smart HTTP rule
  (``githttp.access.authorize_git``): READ = may read the repository (anyone for PUBLIC,
  ``username`` empty = anonymous), WRITE = may write it. ``NOT_FOUND`` for an unknown
  repository or a private one the user may not read, ``PERMISSION_DENIED`` for a reader who
  may not push, ``UNAUTHENTICATED`` for an anonymous caller refused.
* ``PreReceive`` / ``PostReceive``: call ``gitstore.api.hooks.prereceive.pre_receive``
  and ``gitstore.api.hooks.postreceive.post_receive`` (``async (services, request[, context])``
  returning the response message), imported on first use.

Domain errors map to status codes (InvalidArgument → INVALID_ARGUMENT, NotFound → NOT_FOUND,
PermissionDenied → PERMISSION_DENIED, Unauthenticated → UNAUTHENTICATED, FailedPrecondition →
FAILED_PRECONDITION, AlreadyExists → ALREADY_EXISTS, Aborted → ABORTED, Unavailable →
UNAVAILABLE) with the error's message; anything else is INTERNAL "internal error" (logged).

Lifecycle: ``HookServer(services, host, port)`` is a ``grpc.aio`` server on the API's own event
loop (so it shares the app's loop-bound stores). ``ApiServices(hook_server=True)`` (i.e.
``create_app(settings, hook_server=True)``) starts it at the end of ``start()`` on
``settings.hook.grpc.host:port`` (port 0 = a free port; ``services.hook_port`` is the bound
one) and stops it first in ``stop()``. Off by default so that test apps do not all race for
port 50052.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from gitstore import listening
from gitstore.domain import errors
from gitstore.git.status import status_of
from gitstore.hook.v1 import hook_service_pb2 as hpb
from gitstore.hook.v1 import hook_service_pb2_grpc as hpb_grpc

from ..githttp.access import authorize_git, principal_for_username
from ..identity import ssh_keys
from .postreceive import post_receive
from .prereceive import pre_receive

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.hooks")

TOUCH_INTERVAL = timedelta(minutes=1)
T = TypeVar("T")


async def _answer(context: grpc.aio.ServicerContext[Any, Any], what: str, work: Awaitable[T]) -> T:
    try:
        return await work
    except errors.GitStoreError as exc:
        code = status_of(exc)
        if code is grpc.StatusCode.INTERNAL:
            log.error("%s failed", what, exc_info=exc)
        await context.abort(code, exc.message)
    except Exception:
        log.exception("%s failed", what)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error")
    raise AssertionError("unreachable: abort raises")


class HookServicer(hpb_grpc.HookServiceServicer):
    def __init__(self, services: ApiServices) -> None:
        self.services = services

    # ------------------------------------------------------------------ SSH keys
    async def AuthenticateSshKey(
        self,
        request: hpb.AuthenticateSshKeyRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> hpb.AuthenticateSshKeyResponse:
        return await _answer(context, "AuthenticateSshKey", self._authenticate(request))

    async def _authenticate(
        self, request: hpb.AuthenticateSshKeyRequest
    ) -> hpb.AuthenticateSshKeyResponse:
        store = self.services.store
        presented = ssh_keys.parse_public_key(request.public_key)
        if request.fingerprint and request.fingerprint != presented.fingerprint:
            raise errors.InvalidArgument(
                f"fingerprint {request.fingerprint!r} is not the fingerprint of the presented"
                f" key ({presented.fingerprint})",
                field="fingerprint",
            )
        key = await store.get_ssh_key_by_fingerprint(presented.fingerprint)
        if key is None or ssh_keys.normalise(key.public_key) != presented.public_key:
            raise errors.NotFound(f"no user has registered the SSH key {presented.fingerprint}")
        user = await store.get_user(key.user_id)
        if user is None:
            raise errors.NotFound(f"no user has registered the SSH key {presented.fingerprint}")
        if user.disabled:
            raise errors.PermissionDenied(f"user {user.username!r} is disabled")
        now = datetime.now(UTC)
        if key.last_used_at is None or now - key.last_used_at >= TOUCH_INTERVAL:
            await store.touch_ssh_key(key.id, at=now)
        return hpb.AuthenticateSshKeyResponse(username=user.username, key_id=key.id)

    # ------------------------------------------------------------------ authorisation
    async def AuthorizeGit(
        self, request: hpb.AuthorizeGitRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> hpb.AuthorizeGitResponse:
        return await _answer(context, "AuthorizeGit", self._authorize(request))

    async def _authorize(self, request: hpb.AuthorizeGitRequest) -> hpb.AuthorizeGitResponse:
        if request.access not in (hpb.GIT_ACCESS_READ, hpb.GIT_ACCESS_WRITE):
            raise errors.InvalidArgument("access must be GIT_ACCESS_READ or GIT_ACCESS_WRITE")
        store = self.services.store
        principal = (
            await principal_for_username(store, request.username, "") if request.username else None
        )
        await authorize_git(
            store, principal, request.repository_id, write=request.access == hpb.GIT_ACCESS_WRITE
        )
        return hpb.AuthorizeGitResponse()

    # ------------------------------------------------------------------ receive hooks
    async def PreReceive(
        self, request: hpb.PreReceiveRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> hpb.PreReceiveResponse:
        return await _answer(context, "PreReceive", self._pre_receive(request, context))

    async def _pre_receive(
        self, request: hpb.PreReceiveRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> hpb.PreReceiveResponse:
        return await pre_receive(self.services, request)

    async def PostReceive(
        self, request: hpb.PostReceiveRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> hpb.PostReceiveResponse:
        return await _answer(context, "PostReceive", self._post_receive(request))

    async def _post_receive(self, request: hpb.PostReceiveRequest) -> hpb.PostReceiveResponse:
        return await post_receive(self.services, request)


class HookServer:
    """The ``grpc.aio`` server of ``HookService`` on the caller's event loop."""

    def __init__(self, services: ApiServices, host: str, port: int) -> None:
        self.services = services
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._server: grpc.aio.Server | None = None

    async def start(self) -> int:
        server = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),  # a taken port must fail, not be shared
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ]
        )
        hpb_grpc.add_HookServiceServicer_to_server(HookServicer(self.services), server)
        host, requested, what = self.host, self.requested_port, "gRPC hook service"
        listening.ensure_free(host, requested, what)
        try:
            port = server.add_insecure_port(listening.address(host, requested))
        except RuntimeError as exc:
            raise listening.cannot_listen(host, requested, what, str(exc)) from None
        if not port:
            raise listening.cannot_listen(host, requested, what, "the bind failed")
        await server.start()
        self._server = server
        self.port = port
        log.info("hook service listening on %s", listening.address(host, port))
        return port

    async def stop(self, grace: float = 2.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
