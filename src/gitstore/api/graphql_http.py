"""GraphQL over HTTP (the GraphQL-over-HTTP specification) at ``/graphql``.

Requests: ``POST`` with ``Content-Type: application/json`` and a JSON object
``{query, variables, operationName, extensions}`` (anything else: 415); ``GET`` with the same
names as URL parameters (``variables``/``extensions`` JSON-encoded), for queries only: a
mutation over GET is 405 with ``Allow: POST``. Bodies over ``GITSTORE_API__MAX_BODY_BYTES`` are
413. Batches (JSON arrays) are not supported (400). JSON is RFC 8259's: UTF-8 only (UTF-16/32
bodies 415, other non-UTF-8 bytes 400), no ``NaN``/``Infinity``/overflowing numbers (400), and
nesting past the parser's recursion limit is 400, never an internal error.

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
too many unknown access tokens from the address     429 + Retry-After           429
a backend unavailable outside execution             503                         503
unexpected failure outside execution                500 ("internal error")      500
=================================================  ==========================  ================

"Missing credentials" means an operation that needs a caller ran anonymously (a resolver
raised ``Unauthenticated``); a bad ``Authorization`` header is refused before execution,
whatever the operation. Every response carries ``X-Request-Id`` (the client's, when it sends
a sane one).

The hot path (a POSTed query whose document is cached) is kept lean, because the issue-3
benchmark holds a cached ``namespace(by:)`` lookup to 40 % of ``/healthz`` throughput: the
headers it needs are read in one pass over the ASGI scope; ``Accept`` and ``Content-Type``
values are parsed once per distinct value (small LRUs); the body is read straight from the
ASGI ``receive``; the operation, its type and metrics label come with the cached document;
metric children are bound once per label set; the document-cache gauge is computed at scrape
time; the response is encoded by one reused JSON encoder; and a cached query document runs
on its compiled execution plan (``graphql/plan.py``) instead of graphql-core's executor
whenever the plan supports it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from random import getrandbits
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gitstore.domain.errors import GitStoreError, TooManyAttempts, Unauthenticated, Unavailable

from .context import RequestContext
from .errors import format_error, internal_error, request_error
from .graphql.execution.apq import PersistedQueryError
from .graphql.execution.documents import DocumentError, PreparedDocument
from .graphql.execution.plan import is_awaitable as _is_awaitable
from .graphql.holder import SchemaSnapshot
from .graphql.source import SchemaSource
from .graphql_body import Params, Reject, json_body, json_text, params_of, read_body
from .identity.principal import Principal
from .services import ApiServices

log = logging.getLogger("gitstore.api")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_KIND_NAMES = {kind: kind.value for kind in OperationType}  # Enum.value is a slow descriptor
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"))
# the request headers the endpoint reads, by their (lowercase) ASGI name
_ACCEPT, _CONTENT_TYPE, _CONTENT_LENGTH, _AUTHORIZATION, _X_REQUEST_ID = range(5)
_WANTED = {
    b"accept": _ACCEPT,
    b"content-type": _CONTENT_TYPE,
    b"content-length": _CONTENT_LENGTH,
    b"authorization": _AUTHORIZATION,
    b"x-request-id": _X_REQUEST_ID,
}


@dataclass(frozen=True, slots=True)
class _Prepared:
    snapshot: SchemaSnapshot
    prepared: PreparedDocument
    operation: OperationDefinitionNode
    repository: str | None  # ``<namespace>/<repo>`` on a store endpoint
    principal: Principal | None  # authenticated on a store endpoint only


@lru_cache(maxsize=256)
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


@lru_cache(maxsize=64)
def _is_json_utf8(content_type: str) -> bool:
    """Whether a ``Content-Type`` value is ``application/json`` in UTF-8 (the default)."""
    media, *options = (part.strip().lower() for part in content_type.split(";"))
    charset = next(
        (o.partition("=")[2].strip('"') for o in options if o.startswith("charset=")), "utf-8"
    )
    return media == JSON and charset in ("utf-8", "utf8")


class _Metrics:
    """The endpoint's metric children, bound once per label set (``labels()`` hashes and
    locks on every call)."""

    def __init__(self, services: ApiServices) -> None:
        metrics = services.metrics
        self._requests_family = metrics.requests
        self._operations_family = metrics.operations
        self._operation_duration_family = metrics.operation_duration
        self._errors_family = metrics.errors
        self.request_duration = metrics.request_duration.labels("graphql")
        self._requests: dict[tuple[str, int], Counter] = {}
        self._operations: dict[str, tuple[Counter, Histogram]] = {}
        self._errors: dict[str, Counter] = {}
        documents = services.documents
        metrics.cache_entries.set_function(lambda: len(documents))

    def request(self, method: str, status: int) -> Counter:
        key = (method, status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self._requests_family.labels(
                "graphql", method, str(status)
            )
        return child

    def operation(self, label: str) -> tuple[Counter, Histogram]:
        children = self._operations.get(label)
        if children is None:
            children = self._operations[label] = (
                self._operations_family.labels(label),
                self._operation_duration_family.labels(label),
            )
        return children

    def error(self, code: str) -> Counter:
        child = self._errors.get(code)
        if child is None:
            child = self._errors[code] = self._errors_family.labels(code)
        return child


_SOURCE_STATUS = {"NOT_FOUND": 404, "PERMISSION_DENIED": 403, "INVALID_ARGUMENT": 400}


class GraphQLEndpoint:
    """``handle(request)`` is a Starlette endpoint; the instance itself is also a plain ASGI
    app (``Route("/graphql", GraphQLEndpoint(services))``), which spares the route
    Starlette's per-request endpoint wrapper (``request_response``).

    Without ``source`` it serves the global schema (``services.holder``). With one (a store
    endpoint, ``/<namespace>/<repo>/graphql``) the caller is authenticated first, then
    ``source.select`` picks the schema, document cache and repository; everything else —
    parameters, status codes, media types, plans — is the same code."""

    def __init__(self, services: ApiServices, source: SchemaSource | None = None) -> None:
        self.services = services
        self.source = source
        self._metrics = _Metrics(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        headers: list[str | None] = [None] * len(_WANTED)
        for name, value in request.scope["headers"]:
            index = _WANTED.get(name)
            if index is not None and headers[index] is None:
                headers[index] = value.decode("latin-1")
        request_id = _request_id(headers[_X_REQUEST_ID])
        media = negotiate(headers[_ACCEPT])
        try:
            if media is None:
                raise Reject(
                    406,
                    [
                        request_error(
                            f"Accept must allow {GRAPHQL_RESPONSE_JSON} or {JSON}",
                            "NOT_ACCEPTABLE",
                        )
                    ],
                )
            response = await self._handle(request, headers, request_id, media, started)
        except Reject as reject:
            response = _respond(
                media or JSON, reject.status, {"errors": reject.errors}, request_id, reject.headers
            )
            self._count_errors(reject.errors)
        except Unavailable as exc:  # e.g. the metadata store is down while authenticating
            log.warning("request %s: unavailable: %s", request_id, exc.message)
            response = _respond(
                media or JSON, 503, {"errors": [request_error(exc.message, exc.code)]}, request_id
            )
        except Exception:
            log.exception("request %s: unexpected failure", request_id)
            response = _respond(
                media or JSON, 500, {"errors": [internal_error(request_id)]}, request_id
            )
        self._metrics.request(request.method, response.status_code).inc()
        self._metrics.request_duration.observe(time.perf_counter() - started)
        return response

    async def _handle(
        self,
        request: Request,
        headers: list[str | None],
        request_id: str,
        media: str,
        started: float,
    ) -> Response:
        services = self.services
        if request.method == "GET":
            params = self._get_params(request)
        else:
            params = await self._post_params(request, headers)
        request_status = 400 if media == GRAPHQL_RESPONSE_JSON else 200
        try:
            resolved = services.apq.resolve(params.query, params.extensions)
        except PersistedQueryError as exc:
            if not exc.malformed:
                services.metrics.apq.labels("miss").inc()
            raise Reject(
                400 if exc.malformed else request_status, [request_error(exc.message, exc.code)]
            ) from None
        if resolved.outcome != "none":
            services.metrics.apq.labels(resolved.outcome).inc()
        if resolved.query is None or not resolved.query.strip():
            raise Reject(400, [request_error("the request has no query", "BAD_REQUEST")])

        authorization = headers[_AUTHORIZATION]
        chosen = await self._prepare(
            request,
            authorization,
            resolved.query,
            params.operation_name,
            request_status,
            request_id,
        )
        snapshot, prepared, operation = chosen.snapshot, chosen.prepared, chosen.operation
        principal, repository = chosen.principal, chosen.repository
        kind = operation.operation
        if kind is not OperationType.QUERY:
            if request.method == "GET":
                raise Reject(
                    405,
                    [
                        request_error(
                            f"{kind.value}s are not allowed over GET; use POST", "BAD_REQUEST"
                        )
                    ],
                    {"Allow": "POST"},
                )
            if kind is OperationType.SUBSCRIPTION:
                raise Reject(
                    request_status,
                    [
                        request_error(
                            "subscriptions are served as event streams: send"
                            " Accept: text/event-stream (the graphql-sse protocol)",
                            "BAD_REQUEST",
                        )
                    ],
                )

        if self.source is None:  # a store endpoint authenticated while choosing its schema
            principal = await self._authenticate(authorization)

        context = RequestContext(
            request_id, services, principal, _KIND_NAMES[kind], repository=repository
        )
        plan = prepared.plan(operation)
        if plan is not None:
            outcome = plan.execute(context, params.variables, _is_awaitable)
        else:
            outcome = execute(
                snapshot.schema,
                prepared.document,
                context_value=context,
                variable_values=params.variables,
                operation_name=params.operation_name,
                is_awaitable=_is_awaitable,
            )
        result = outcome if isinstance(outcome, ExecutionResult) else await outcome
        graphql_errors = result.errors
        errors = [format_error(e, request_id) for e in graphql_errors] if graphql_errors else []
        self._count_errors(errors)
        executed = not (
            result.data is None and errors and all(e.path is None for e in graphql_errors or ())
        )
        body: dict[str, Any] = {"data": result.data} if executed else {}
        if errors:
            body["errors"] = errors
        operations, duration = self._metrics.operation(prepared.label(operation))
        operations.inc()
        duration.observe(time.perf_counter() - started)
        if errors and any(e["extensions"].get("code") == Unauthenticated.code for e in errors):
            return _respond(
                media, 401, body, request_id, {"WWW-Authenticate": 'Bearer realm="gitstore"'}
            )
        return _respond(media, 200 if executed else request_status, body, request_id)

    async def _prepare(
        self,
        request: Request,
        authorization: str | None,
        query: str,
        operation_name: str | None,
        status: int,
        request_id: str,
    ) -> _Prepared:
        """Choose the schema (a store endpoint's is the repository's: the caller must read it,
        so it is authenticated here), then parse, look up and validate the operation."""
        repository: str | None = None
        principal: Principal | None = None
        if self.source is None:
            snapshot, documents = self.services.holder.current, self.services.documents
        else:
            principal = await self._authenticate(authorization)
            try:
                choice = await self.source.select(request, principal)
            except Unavailable:
                raise
            except GitStoreError as exc:
                raise Reject(
                    _SOURCE_STATUS.get(exc.code, 400), [request_error(exc.message, exc.code)]
                ) from None
            snapshot, documents, repository = choice.snapshot, choice.documents, choice.repository
        try:
            prepared = documents.prepare(snapshot, query)
            operation = prepared.operation(operation_name)
        except DocumentError as exc:
            raise Reject(status, [format_error(e, request_id) for e in exc.errors]) from None
        except GraphQLError as exc:
            raise Reject(status, [format_error(exc, request_id)]) from None
        return _Prepared(snapshot, prepared, operation, repository, principal)

    async def _authenticate(self, authorization: str | None) -> Principal | None:
        if authorization is None:
            return None
        try:
            return await self.services.authenticator.authenticate_header(authorization)
        except TooManyAttempts as exc:
            error = request_error(exc.message, exc.code)
            error["extensions"]["retryAfter"] = exc.retry_after
            raise Reject(429, [error], {"Retry-After": str(exc.retry_after)}) from None
        except Unauthenticated as exc:
            raise Reject(
                401,
                [request_error(exc.message, exc.code)],
                {"WWW-Authenticate": 'Bearer realm="gitstore", error="invalid_token"'},
            ) from None

    # ------------------------------------------------------------------ parameters
    async def _post_params(self, request: Request, headers: list[str | None]) -> Params:
        content_type = headers[_CONTENT_TYPE] or ""
        if not _is_json_utf8(content_type):
            raise Reject(
                415,
                [
                    request_error(
                        f"Content-Type must be {JSON} (UTF-8), got {content_type or 'none'!r}",
                        "UNSUPPORTED_MEDIA_TYPE",
                    )
                ],
            )
        raw = await read_body(
            request, headers[_CONTENT_LENGTH], self.services.settings.api.max_body_bytes
        )
        payload = json_body(raw)
        if isinstance(payload, list):
            raise Reject(400, [request_error("batched requests are not supported", "BAD_REQUEST")])
        if not isinstance(payload, dict):
            raise Reject(400, [request_error("the body must be a JSON object", "BAD_REQUEST")])
        return params_of(payload)

    def _get_params(self, request: Request) -> Params:
        raw: dict[str, Any] = {}
        for name in ("query", "operationName"):
            value = request.query_params.get(name)
            if value:
                raw[name] = value
        for name in ("variables", "extensions"):
            value = request.query_params.get(name)
            if value:
                raw[name] = json_text(value, f"URL parameter {name}")
        return params_of(raw)

    def _count_errors(self, errors: list[dict[str, Any]]) -> None:
        for error in errors:
            code = (error.get("extensions") or {}).get("code", "UNKNOWN")
            self._metrics.error(str(code)).inc()


class _JsonResponse(Response):
    """A response with its raw headers built directly (what ``Response.__init__`` would
    make from a header mapping, without scanning one)."""

    def __init__(
        self,
        content: bytes,
        status: int,
        media: str,
        request_id: str,
        headers: dict[str, str] | None,
    ) -> None:
        self.status_code = status
        self.background = None
        self.body = content
        raw = [
            (b"content-length", str(len(content)).encode("latin-1")),
            (b"content-type", _CONTENT_TYPES[media]),
            (b"x-request-id", request_id.encode("latin-1")),
        ]
        if headers:
            raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.raw_headers = raw


_CONTENT_TYPES = {
    media: f"{media}; charset=utf-8".encode() for media in (JSON, GRAPHQL_RESPONSE_JSON)
}


def _respond(
    media: str,
    status: int,
    body: dict[str, Any],
    request_id: str,
    headers: dict[str, str] | None = None,
) -> Response:
    try:
        content = _ENCODER.encode(body).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate echoed from the input: escape it as \udxxx
        content = _ASCII_ENCODER.encode(body).encode("ascii")
    return _JsonResponse(content, status, media, request_id, headers)


def _request_id(given: str | None) -> str:
    """The client's request id when it is sane, else 16 random hex digits (an id to find
    log lines by, not a secret: the fast non-cryptographic generator is enough)."""
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return f"{getrandbits(64):016x}"
