"""Git's Smart HTTP protocol on the API: a streaming relay to the git service.

Routes (mounted by ``create_app``)::

    GET  /{namespace}/{repo}.git/info/refs?service=git-upload-pack|git-receive-pack
    POST /{namespace}/{repo}.git/git-upload-pack
    POST /{namespace}/{repo}.git/git-receive-pack

The API holds no git state. A request is authenticated (HTTP Basic: user name + personal
access token, or a login JWT, as the password; no credentials = anonymous), authorised with
``access.authorize_git`` (fetch = read, push = write, for ``info/refs?service=git-receive-pack``
too, so ``git push`` is asked for credentials before it sends a pack), and then relayed: the
request body streams into ``GitClient.upload_pack`` / ``receive_pack`` (gunzipped on the fly)
while git's output streams back as the response. Nothing buffers a pack: memory per request
is a few chunks, whatever the pack size, and no body size limit applies to these routes.

Errors become plain-text responses (git prints them as ``remote: ...``): 401 with
``WWW-Authenticate: Basic realm="GitStore"`` for missing or wrong credentials (and for an
anonymous caller refused anything, so ``git`` asks for credentials), 403 for a known caller who
may read but not push (or a dumb-protocol request), 404 for an unknown repository or a private
one the caller may not read, 400/415 for malformed requests, 503 when the git service is down,
429 with ``Retry-After`` (seconds) while the client's address is locked after too many unknown
access tokens (``domain.ratelimit``; the token is then not even looked up).
The first chunk of git's output is awaited before the status line is sent, so a failure to
start git (unknown repository on the git side, service down) still gets its status code; a
failure later cuts the stream, which git reports as an early EOF.

Every request carries a ``PushContext`` to the git service: the user name ("" = anonymous),
transport ``http``, a fresh ``push_id`` (uuid4 hex; the correlation id of the events and the
audit entries of a push) and the client's address.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gitstore.domain.errors import (
    GitStoreError,
    InvalidArgument,
    TooManyAttempts,
    Unauthenticated,
)
from gitstore.git.v1 import git_service_pb2 as pb

from ..errors import http_status
from ..identity import access_tokens
from ..identity.principal import Principal
from . import protocol
from .access import authorize_git

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.githttp")

REALM = 'Basic realm="GitStore"'
BASE = "/{namespace}/{repo}.git"


class GitStream(StreamingResponse):
    """A streamed response that never reads the request: the request body belongs to the
    git stream (Starlette's disconnect listener would swallow body chunks); a client that goes
    away shows up as a failed ``send``, which closes the body iterator and cancels the call."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.stream_response(send)
        except OSError:
            log.info("git client went away mid-response")


def _text(status: int, message: str) -> Response:
    response = Response(message.rstrip("\n") + "\n", status_code=status, media_type="text/plain")
    for name, value in protocol.NO_CACHE.items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


async def _prime(stream: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    """Wait for the first chunk (errors to start git surface here, before the status line)."""
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        first = b""
    return first, stream


async def _relay(first: bytes, rest: AsyncIterator[bytes], what: str) -> AsyncIterator[bytes]:
    if first:
        yield first
    try:
        async for chunk in rest:
            yield chunk
    except GitStoreError as exc:
        log.warning("%s failed mid-stream: %s", what, exc.message)
    finally:
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            await aclose()


class GitHttp:
    """The three Smart HTTP handlers over one ``ApiServices``."""

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def routes(self) -> list[Route]:
        return [
            Route(
                BASE + "/info/refs", self._wrap("git_info_refs", self.info_refs), methods=["GET"]
            ),
            Route(
                BASE + "/git-upload-pack",
                self._wrap("git_upload_pack", self.upload_pack),
                methods=["POST"],
            ),
            Route(
                BASE + "/git-receive-pack",
                self._wrap("git_receive_pack", self.receive_pack),
                methods=["POST"],
            ),
        ]

    def _wrap(
        self, label: str, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except GitStoreError as exc:
                status = http_status(exc)
                if status is None:
                    log.error("git over HTTP failed", exc_info=exc)
                    response = _text(500, "internal error")
                else:
                    response = _text(status, exc.message)
                if isinstance(exc, TooManyAttempts):
                    response.headers["Retry-After"] = str(exc.retry_after)
            except Exception:
                log.exception("git over HTTP failed")
                response = _text(500, "internal error")
            metrics = self.services.metrics
            metrics.requests.labels(label, request.method, str(response.status_code)).inc()
            metrics.request_duration.labels(label).observe(time.perf_counter() - started)
            return response

        return endpoint

    # ------------------------------------------------------------------ handlers
    async def info_refs(self, request: Request) -> Response:
        service = request.query_params.get("service")
        if service is None:
            return _text(403, "the dumb HTTP protocol is not served; use git's smart protocol")
        if service not in protocol.SERVICES:
            raise InvalidArgument(f"unknown git service {service!r}", field="service")
        repository_id, principal = await self._admit(request, service)
        git_protocol = protocol.git_protocol(request.headers.get("git-protocol"))
        stream = self.services.git().advertise_refs(
            repository_id,
            service,
            git_protocol=git_protocol,
            context=self._context(request, principal),
        )
        first, rest = await _prime(stream)
        if not protocol.wants_v2(git_protocol):
            first = protocol.service_header(service) + first
        return GitStream(
            _relay(first, rest, f"{service} advertisement of {repository_id}"),
            media_type=protocol.advertisement_type(service),
            headers=protocol.NO_CACHE,
        )

    async def upload_pack(self, request: Request) -> Response:
        return await self._pack(request, protocol.UPLOAD_PACK)

    async def receive_pack(self, request: Request) -> Response:
        return await self._pack(request, protocol.RECEIVE_PACK)

    async def _pack(self, request: Request, service: str) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != protocol.request_type(service):
            return _text(
                415,
                f"{service} requests must be {protocol.request_type(service)}"
                f" (got {content_type or 'no content type'!r})",
            )
        repository_id, principal = await self._admit(request, service)
        git_protocol = protocol.git_protocol(request.headers.get("git-protocol"))
        body = protocol.inflate(request.stream(), request.headers.get("content-encoding"))
        context = self._context(request, principal)
        git = self.services.git()
        call = git.receive_pack if service == protocol.RECEIVE_PACK else git.upload_pack
        if service == protocol.RECEIVE_PACK:
            log.info(
                "push %s to %s by %s from %s",
                context.push_id,
                repository_id,
                context.username or "(anonymous)",
                context.remote_address,
            )
        stream = call(repository_id, body, git_protocol=git_protocol, context=context)
        first, rest = await _prime(stream)
        return GitStream(
            _relay(first, rest, f"{service} of {repository_id}"),
            media_type=protocol.result_type(service),
            headers=protocol.NO_CACHE,
        )

    # ------------------------------------------------------------------ helpers
    async def _admit(self, request: Request, service: str) -> tuple[str, Principal | None]:
        params = request.path_params
        repository_id = f"{params['namespace']}/{params['repo']}"
        principal = await self._principal(request)
        record = await authorize_git(
            self.services.store,
            principal,
            repository_id,
            write=service == protocol.RECEIVE_PACK,
        )
        return record.repository_id, principal

    async def _principal(self, request: Request) -> Principal | None:
        header = request.headers.get("authorization")
        if header is None:
            return None
        authenticator = self.services.authenticator
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return await authenticator.authenticate_header(header)
        if scheme.lower() != "basic":
            raise Unauthenticated(f"use HTTP Basic credentials (got scheme {scheme[:20]!r})")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed HTTP Basic credentials") from None
        username, sep, secret = decoded.partition(":")
        if not sep or not secret:
            raise Unauthenticated(
                "send your user name and a personal access token (gst_...) as the password"
            )
        if access_tokens.looks_like_access_token(secret) or secret.count(".") != 2:
            return await authenticator.authenticate_basic(username, secret)
        principal = await authenticator.authenticate_bearer(secret)  # a login JWT
        if principal.username != username:
            raise Unauthenticated("the login token does not belong to this username")
        return principal

    @staticmethod
    def _context(request: Request, principal: Principal | None) -> pb.PushContext:
        return pb.PushContext(
            username=principal.username if principal is not None else "",
            transport="http",
            push_id=uuid.uuid4().hex,
            remote_address=request.client.host if request.client is not None else "",
        )
