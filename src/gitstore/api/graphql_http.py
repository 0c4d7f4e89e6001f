"""GraphQL over HTTP (the GraphQL-over-HTTP specification) at ``/graphql``.

Requests: ``POST`` with ``Content-Type: application/json`` and a JSON object
``{query, variables, operationName, extensions}`` (anything else: 415); ``GET`` with the same
names as URL parameters (``variables``/``extensions`` JSON-encoded), for queries only: a
mutation over GET is 405 with ``Allow: POST``. Bodies over ``GITSTORE_API__MAX_BODY_BYTES`` are
413. Batches (JSON arrays) are not supported (400).

Responses: ``application/graphql-response+json`` when the ``Accept`` header allows it (it is
preferred on a tie and chosen for ``*/*``), else ``application/json``; no ``Accept`` header
means ``application/json``; an ``Accept`` allowing neither is 406. Status codes:

=================================================  ==========================  ================
situation                                          graphql-response+json       application/json
=================================================  ==========================  ================
malformed request (bad JSON, no query, bad          400                         400
params, APQ hash mismatch)
parse / validation / limit / variable errors,       400                         200
unknown operation, PersistedQueryNotFound
executed (with or without field errors)             200                         200
missing or bad credentials                          401 + WWW-Authenticate      401
a backend unavailable outside execution             503                         503
unexpected failure outside execution                500 ("internal error")      500
=================================================  ==========================  ================

"Missing credentials" means an operation that needs a caller ran anonymously (a resolver
raised ``Unauthenticated``); a bad ``Authorization`` header is refused before execution,
whatever the operation. Every response carries ``X-Request-Id`` (the client's, when it sends
a sane one).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from starlette.requests import Request
from starlette.responses import Response

from gitstore.domain.errors import Unauthenticated, Unavailable

from .context import RequestContext
from .errors import format_error, internal_error, request_error
from .graphql.apq import PersistedQueryError
from .graphql.documents import DocumentError
from .services import ApiServices

log = logging.getLogger("gitstore.api")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")


class _Reject(Exception):
    """A request refused before execution: status and body are final."""

    def __init__(
        self,
        status: int,
        errors: list[dict[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class _Params:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header, or None if none is acceptable."""
    if accept is None or not accept.strip():
        return JSON
    best: str | None = None
    best_key: tuple[float, int, bool] | None = None
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        media = media.lower()
        if media in (GRAPHQL_RESPONSE_JSON, JSON):
            candidate, specificity = media, 2
        elif media in ("*/*", "application/*"):
            candidate, specificity = GRAPHQL_RESPONSE_JSON, 1
        else:
            continue
        rank = (quality, specificity, candidate == GRAPHQL_RESPONSE_JSON)
        if best_key is None or rank > best_key:
            best, best_key = candidate, rank
    return best


class GraphQLEndpoint:
    def __init__(self, services: ApiServices) -> None:
        self.services = services

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = _request_id(request)
        media = negotiate(request.headers.get("accept"))
        try:
            if media is None:
                raise _Reject(
                    406,
                    [
                        request_error(
                            f"Accept must allow {GRAPHQL_RESPONSE_JSON} or {JSON}",
                            "NOT_ACCEPTABLE",
                        )
                    ],
                )
            response = await self._handle(request, request_id, media, started)
        except _Reject as reject:
            response = _respond(media or JSON, reject.status, {"errors": reject.errors})
            response.headers.update(reject.headers)
            self._count_errors(reject.errors)
        except Unavailable as exc:  # e.g. the metadata store is down while authenticating
            log.warning("request %s: unavailable: %s", request_id, exc.message)
            response = _respond(
                media or JSON, 503, {"errors": [request_error(exc.message, exc.code)]}
            )
        except Exception:
            log.exception("request %s: unexpected failure", request_id)
            response = _respond(media or JSON, 500, {"errors": [internal_error(request_id)]})
        response.headers["X-Request-Id"] = request_id
        metrics = self.services.metrics
        metrics.requests.labels("graphql", request.method, str(response.status_code)).inc()
        metrics.request_duration.labels("graphql").observe(time.perf_counter() - started)
        return response

    async def _handle(
        self, request: Request, request_id: str, media: str, started: float
    ) -> Response:
        services = self.services
        params = await (
            self._get_params(request) if request.method == "GET" else self._post_params(request)
        )
        request_status = 400 if media == GRAPHQL_RESPONSE_JSON else 200
        try:
            resolved = services.apq.resolve(params.query, params.extensions)
        except PersistedQueryError as exc:
            if not exc.malformed:
                services.metrics.apq.labels("miss").inc()
            raise _Reject(
                400 if exc.malformed else request_status, [request_error(exc.message, exc.code)]
            ) from None
        if resolved.outcome != "none":
            services.metrics.apq.labels(resolved.outcome).inc()
        if resolved.query is None or not resolved.query.strip():
            raise _Reject(400, [request_error("the request has no query", "BAD_REQUEST")])

        snapshot = services.holder.current
        try:
            prepared = services.documents.prepare(snapshot, resolved.query)
            operation = prepared.operation(params.operation_name)
        except DocumentError as exc:
            raise _Reject(
                request_status, [format_error(e, request_id) for e in exc.errors]
            ) from None
        except GraphQLError as exc:
            raise _Reject(request_status, [format_error(exc, request_id)]) from None
        services.metrics.cache_entries.set(len(services.documents))
        kind = operation.operation
        if request.method == "GET" and kind is not OperationType.QUERY:
            raise _Reject(
                405,
                [request_error(f"{kind.value}s are not allowed over GET; use POST", "BAD_REQUEST")],
                {"Allow": "POST"},
            )
        if kind is OperationType.SUBSCRIPTION:
            raise _Reject(
                request_status,
                [request_error("subscriptions are not served at this endpoint", "BAD_REQUEST")],
            )

        authorization = request.headers.get("authorization")
        try:
            principal = await services.authenticator.authenticate_header(authorization)
        except Unauthenticated as exc:
            raise _Reject(
                401,
                [request_error(exc.message, exc.code)],
                {"WWW-Authenticate": 'Bearer realm="gitstore", error="invalid_token"'},
            ) from None

        context = RequestContext(request_id, services, principal, kind.value)
        outcome = execute(
            snapshot.schema,
            prepared.document,
            context_value=context,
            variable_values=params.variables,
            operation_name=params.operation_name,
        )
        result = await outcome if not isinstance(outcome, ExecutionResult) else outcome
        assert isinstance(result, ExecutionResult)
        errors = [format_error(e, request_id) for e in result.errors or ()]
        self._count_errors(errors)
        executed = not (
            result.data is None and errors and all(e.path is None for e in result.errors or ())
        )
        body: dict[str, Any] = {"data": result.data} if executed else {}
        if errors:
            body["errors"] = errors
        label = _operation_label(operation)
        services.metrics.operations.labels(label).inc()
        services.metrics.operation_duration.labels(label).observe(time.perf_counter() - started)
        if any(e["extensions"].get("code") == Unauthenticated.code for e in errors):
            response = _respond(media, 401, body)
            response.headers["WWW-Authenticate"] = 'Bearer realm="gitstore"'
            return response
        return _respond(media, 200 if executed else request_status, body)

    # ------------------------------------------------------------------ parameters
    async def _post_params(self, request: Request) -> _Params:
        content_type = request.headers.get("content-type", "")
        media, *options = (part.strip().lower() for part in content_type.split(";"))
        charset = next(
            (o.partition("=")[2].strip('"') for o in options if o.startswith("charset=")), "utf-8"
        )
        if media != JSON or charset not in ("utf-8", "utf8"):
            raise _Reject(
                415,
                [
                    request_error(
                        f"Content-Type must be {JSON} (UTF-8), got {content_type or 'none'!r}",
                        "UNSUPPORTED_MEDIA_TYPE",
                    )
                ],
            )
        raw = await _read_body(request, self.services.settings.api.max_body_bytes)
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Reject(
                400, [request_error(f"the body is not valid JSON: {exc}", "BAD_REQUEST")]
            ) from None
        if isinstance(payload, list):
            raise _Reject(400, [request_error("batched requests are not supported", "BAD_REQUEST")])
        if not isinstance(payload, dict):
            raise _Reject(400, [request_error("the body must be a JSON object", "BAD_REQUEST")])
        return _params(payload)

    async def _get_params(self, request: Request) -> _Params:
        raw: dict[str, Any] = {}
        for name in ("query", "operationName"):
            value = request.query_params.get(name)
            if value:
                raw[name] = value
        for name in ("variables", "extensions"):
            value = request.query_params.get(name)
            if value:
                try:
                    raw[name] = json.loads(value)
                except ValueError:
                    raise _Reject(
                        400,
                        [request_error(f"URL parameter {name} is not valid JSON", "BAD_REQUEST")],
                    ) from None
        return _params(raw)

    def _count_errors(self, errors: list[dict[str, Any]]) -> None:
        for error in errors:
            code = (error.get("extensions") or {}).get("code", "UNKNOWN")
            self.services.metrics.errors.labels(str(code)).inc()


def _params(payload: dict[str, Any]) -> _Params:
    expected: dict[str, tuple[type, str]] = {
        "query": (str, "a string"),
        "operationName": (str, "a string"),
        "variables": (dict, "an object"),
        "extensions": (dict, "an object"),
    }
    for name, (kind, text) in expected.items():
        value = payload.get(name)
        if value is not None and not isinstance(value, kind):
            raise _Reject(400, [request_error(f"{name} must be {text} or null", "BAD_REQUEST")])
    return _Params(
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
        payload.get("extensions"),
    )


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = _Reject(
        413, [request_error(f"the body is larger than {limit} bytes", "PAYLOAD_TOO_LARGE")]
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _respond(media: str, status: int, body: dict[str, Any]) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(content, status_code=status, media_type=f"{media}; charset=utf-8")


def _request_id(request: Request) -> str:
    given = request.headers.get("x-request-id")
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return secrets.token_hex(8)


def _operation_label(operation: OperationDefinitionNode) -> str:
    first = next(
        (s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)),
        "fragment",
    )
    return f"{operation.operation.value}.{first}"
