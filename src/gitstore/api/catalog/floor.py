"""The storefront floor route: one KV document as JSON, without GraphQL.

``GET /storefront/raw/{namespace}/{repo}/{kind}/{name}[?channel=live|draft]`` does exactly
the work of ``catalog(repository:) { product(name:) }`` minus GraphQL — the same access rule
and channel resolution (``access``), one ``get`` — and answers the stored document bytes as
they are, wrapped with where they came from::

    {"repository": "acme/catalog", "channel": "draft", "kind": "product",
     "name": "blue-shirt", "version": "<commit sha>", "document": {...the KV value...}}

It is the floor the storefront benchmark compares ``product(id)`` over GraphQL against, and a
cheap way to look at what the projection holds. ``kind`` is the KV kind (``product``,
``category``, ``collection``); ``Authorization: Bearer`` works as on ``/graphql``. Errors are
``{"error": {"code", "message"}}`` with 400 (bad input), 401, 403, 404 (no repository, or no
document), 503 (a store unavailable). The header ``X-GitStore-Version`` repeats the version.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from gitstore.domain.errors import (
    GitStoreError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)

from ..errors import http_status
from .access import Channel, readable_repository, resolve_scope
from .reads import KINDS

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.storefront")

ROUTE = "/storefront/raw/{namespace}/{repo}/{kind}/{name}"


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    response = Response(body, status_code=status, media_type="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gitstore"'
    return response


class FloorRoute:
    def __init__(self, services: ApiServices) -> None:
        self.services = services

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await self._handle(request)
        except GitStoreError as exc:
            status = http_status(exc)
            if status is None:
                log.error("storefront raw read failed", exc_info=exc)
                response = _error(500, "INTERNAL", "internal error")
            else:
                response = _error(status, exc.code, exc.message)
        except Exception:
            log.exception("storefront raw read failed")
            response = _error(500, "INTERNAL", "internal error")
        metrics = self.services.metrics
        elapsed = time.perf_counter() - started
        metrics.requests.labels("storefront_raw", "GET", str(response.status_code)).inc()
        metrics.request_duration.labels("storefront_raw").observe(elapsed)
        metrics.storefront_read_duration.labels("raw").observe(elapsed)
        return response

    async def _handle(self, request: Request) -> Response:
        services = self.services
        params = request.path_params
        repository = f"{params['namespace']}/{params['repo']}"
        kind, name = params["kind"], params["name"]
        if kind not in KINDS:
            raise InvalidArgument(
                f"kind {kind!r} is not a catalogue kind (use one of {', '.join(KINDS)})",
                field="kind",
            )
        raw_channel = request.query_params.get("channel", Channel.LIVE.value).lower()
        try:
            channel = Channel(raw_channel)
        except ValueError:
            raise InvalidArgument(
                f"channel {raw_channel!r} is not one of live, draft", field="channel"
            ) from None
        principal = await services.authenticator.authenticate_header(
            request.headers.get("authorization")
        )
        if principal is not None and not principal.allows("read"):
            raise PermissionDenied("this access token lacks the 'read' scope")
        record = await readable_repository(
            services.store, principal, repository, draft=channel is Channel.DRAFT
        )
        kv = services.kv()
        scope = await resolve_scope(kv, record, channel)
        document = await kv.get(scope, kind, name)
        if document is None:
            raise NotFound(f"{kind} {name!r} not found in {repository} ({channel.value})")
        head = json.dumps(
            {
                "repository": repository,
                "channel": scope.channel,
                "kind": kind,
                "name": name,
                "version": document.version,
            },
            separators=(",", ":"),
        ).encode()
        body = head[:-1] + b',"document":' + document.body + b"}"
        response = Response(body, media_type="application/json")
        response.headers["X-GitStore-Version"] = document.version
        return response
