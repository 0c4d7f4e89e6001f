"""GraphQL over Server-Sent Events (the graphql-sse protocol) on ``/graphql`` and on every
store endpoint ``/<namespace>/<repo>/graphql``.

:class:`GraphQLSse` is the ASGI app of both routes (the store route's stands in front of
the store ``GraphQLEndpoint`` and shares the global route's limits and reservations). A
request is the SSE protocol's when it is a ``PUT`` or ``DELETE``, carries
``X-GraphQL-Event-Stream-Token``, or is a ``GET``/``POST`` whose ``Accept`` asks for
``text/event-stream``; every other request goes to the plain GraphQL-over-HTTP endpoint
(``graphql_http``) unchanged.

**Distinct connections mode** — ``POST`` (or ``GET`` for queries) with
``Accept: text/event-stream``: the response is the event stream of that one operation,
``next`` events with ExecutionResults, then ``complete``. A request refused before execution
(bad JSON, validation, limits, credentials) is still a ``200`` stream whose one ``next``
carries the errors, then ``complete`` (as the protocol asks).

**Single connection mode** — ``PUT`` makes a reservation and answers ``201`` with a token
(text/plain); ``GET`` with ``Accept: text/event-stream`` and the token (header
``X-GraphQL-Event-Stream-Token`` or URL parameter ``token``) opens the stream (one stream per
token; a second is ``409``); ``POST`` with the token and ``extensions.operationId`` runs an
operation and answers ``202``, its results go to the stream as ``next``/``complete`` with
``{id, payload}``; ``DELETE ?operationId=`` stops one (``200``). Requests with the token
must come from the caller who made the reservation (same credentials). Refusals here are
plain GraphQL-over-HTTP responses (status + JSON errors).

Limits (one set per process, both routes together): ``GITSTORE_WATCH__MAX_STREAMS`` open
streams per process (``503`` past it), ``max_operations_per_stream`` operations per
single-connection stream (``409``), and a reservation not used within
``reservation_seconds`` is forgotten. A reservation is the process's, not the route's: its
operations may be posted to either route (each runs on the schema of the route it came to).
On shutdown every stream ends (``ApiServices.end_streams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from gitstore.domain.errors import PermanentError, RetryableError, Unavailable

from ..context import RequestContext
from ..errors import internal_error, request_error
from ..graphql_body import Reject
from ..graphql_http import JSON, GraphQLEndpoint, _request_id, _respond
from ..identity.principal import Principal
from ..services import ApiServices
from .operations import Operation, SharedEncodings, prepare, refused, results
from .stream import EventStream, StreamClosed, complete_message, next_message

log = logging.getLogger("gitstore.api.sse")

TOKEN_HEADER = b"x-graphql-event-stream-token"
EVENT_STREAM = "text/event-stream"
_WANTED = {
    b"accept": 0,
    b"content-type": 1,
    b"content-length": 2,
    b"authorization": 3,
    b"x-request-id": 5,
}


@dataclass
class _Reservation:
    token: str
    principal_id: str | None
    made: float
    stream: EventStream | None = None
    operations: dict[str, asyncio.Task[Any]] = field(default_factory=dict)


@dataclass
class _Streams:
    """What every SSE route of a process shares: the open streams (one limit) and the
    single-connection reservations."""

    open: int = 0
    reservations: dict[str, _Reservation] = field(default_factory=dict)


class GraphQLSse:
    """``endpoint``: the GraphQL-over-HTTP endpoint it stands in front of (the global one,
    or a store endpoint's, whose ``source`` picks the repository's schema); ``share``: the
    ``GraphQLSse`` of another route whose limits, reservations and shared encodings this
    one uses too (the store route shares the global route's)."""

    def __init__(
        self,
        services: ApiServices,
        endpoint: GraphQLEndpoint | None = None,
        *,
        share: GraphQLSse | None = None,
    ) -> None:
        self.services = services
        self.http = endpoint or GraphQLEndpoint(services)
        if share is None:
            self.shared = SharedEncodings()
            self._streams = _Streams()
            services.metrics.event_streams.set_function(lambda: self.open_streams)
        else:
            self.shared, self._streams = share.shared, share._streams
        self._reservations = self._streams.reservations

    @property
    def open_streams(self) -> int:
        return self._streams.open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[str | None] = [None] * 6
        for name, value in scope["headers"]:
            if name == TOKEN_HEADER:
                headers[4] = value.decode("latin-1")
            else:
                index = _WANTED.get(name)
                if index is not None and headers[index] is None:
                    headers[index] = value.decode("latin-1")
        method = scope["method"]
        wants_stream = EVENT_STREAM in (headers[0] or "")
        if method not in ("PUT", "DELETE") and headers[4] is None and not wants_stream:
            await self.http(scope, receive, send)
            return
        request = Request(scope, receive)
        token = headers[4] or request.query_params.get("token")
        request_id = _request_id(headers[5])
        try:
            if method == "PUT":
                response = await self._reserve(headers)
            elif method == "DELETE":
                response = await self._stop(request, headers, token)
            elif token is not None and method == "GET":
                await self._open(scope, receive, send, token)
                return
            elif token is not None:
                response = await self._execute(request, headers, token, request_id)
            else:
                await self._distinct(scope, receive, send, request, headers, request_id)
                return
        except Reject as reject:
            response = _respond(
                JSON, reject.status, {"errors": reject.errors}, request_id, reject.headers
            )
        except Unavailable as exc:
            response = _respond(
                JSON, 503, {"errors": [request_error(exc.message, exc.code)]}, request_id
            )
        await response(scope, receive, send)

    # ------------------------------------------------------------------ distinct connections
    async def _distinct(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: Request,
        headers: list[str | None],
        request_id: str,
    ) -> None:
        self._check_capacity()
        stream = EventStream(self.services.settings.watch.keepalive_seconds, self.services.closing)
        try:
            operation = await prepare(self.http, request, headers, request_id, headers[3])
        except Reject as reject:
            await stream.put(next_message(refused(reject.errors)))
            await stream.put(complete_message())
            stream.finish()
        else:
            stream.spawn(self._pump(stream, operation, None, finish=True))
        await self._run(stream, receive, send, request_id)

    # ------------------------------------------------------------------ single connection
    async def _reserve(self, headers: list[str | None]) -> Response:
        principal = await self.http._authenticate(headers[3])
        self._forget_stale()
        self._check_capacity()
        if len(self._reservations) >= self.services.settings.watch.max_streams:
            raise Unavailable("too many event stream reservations; try again later")
        token = secrets.token_urlsafe(24)
        self._reservations[token] = _Reservation(token, _principal_id(principal), time.monotonic())
        return PlainTextResponse(token, status_code=201)

    def _reservation(self, token: str | None, principal: Principal | None) -> _Reservation:
        reservation = self._reservations.get(token or "")
        if reservation is None:
            raise Reject(
                404,
                [
                    request_error(
                        "no such event stream reservation (token unknown or expired)", "NOT_FOUND"
                    )
                ],
            )
        if reservation.principal_id != _principal_id(principal):
            raise Reject(
                403,
                [request_error("this event stream belongs to another caller", "PERMISSION_DENIED")],
            )
        return reservation

    async def _open(self, scope: Scope, receive: Receive, send: Send, token: str) -> None:
        reservation = self._reservations.get(token)
        status, message = 0, ""
        if reservation is None:
            status, message = 404, "no such event stream reservation (token unknown or expired)"
        elif reservation.stream is not None:
            status, message = 409, "this reservation already has an event stream"
        if status:
            code = "NOT_FOUND" if status == 404 else "ALREADY_EXISTS"
            response = _respond(
                JSON, status, {"errors": [request_error(message, code)]}, _request_id(None)
            )
            await response(scope, receive, send)
            return
        assert reservation is not None
        self._check_capacity()
        stream = EventStream(self.services.settings.watch.keepalive_seconds, self.services.closing)
        reservation.stream = stream
        stream.on_end = lambda: self._forget(token)
        await self._run(stream, receive, send, _request_id(None))

    async def _execute(
        self, request: Request, headers: list[str | None], token: str, request_id: str
    ) -> Response:
        operation = await prepare(self.http, request, headers, request_id, headers[3])
        reservation = self._reservation(token, operation.principal)
        extensions = operation.params.extensions or {}
        operation_id = extensions.get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            raise Reject(
                400, [request_error("extensions.operationId (a string) is required", "BAD_REQUEST")]
            )
        if operation_id in reservation.operations:
            raise Reject(
                409,
                [request_error(f"operation {operation_id!r} is already running", "ALREADY_EXISTS")],
            )
        limit = self.services.settings.watch.max_operations_per_stream
        if len(reservation.operations) >= limit:
            raise Reject(
                409,
                [
                    request_error(
                        f"this event stream runs {limit} operations already (the limit)",
                        "RESOURCE_EXHAUSTED",
                    )
                ],
            )
        stream = reservation.stream
        if stream is None or stream.done:
            raise Reject(
                409,
                [
                    request_error(
                        "open the event stream (GET) before sending operations",
                        "FAILED_PRECONDITION",
                    )
                ],
            )
        task = stream.spawn(self._pump(stream, operation, operation_id, finish=False))
        reservation.operations[operation_id] = task
        task.add_done_callback(lambda _t: reservation.operations.pop(operation_id, None))
        return Response(status_code=202)

    async def _stop(
        self, request: Request, headers: list[str | None], token: str | None
    ) -> Response:
        principal = await self.http._authenticate(headers[3])
        reservation = self._reservation(token, principal)
        operation_id = request.query_params.get("operationId")
        if not operation_id:
            raise Reject(
                400, [request_error("the URL parameter operationId is required", "BAD_REQUEST")]
            )
        task = reservation.operations.pop(operation_id, None)
        if task is not None:
            task.cancel()
        return Response(status_code=200)

    def _forget(self, token: str) -> None:
        self._reservations.pop(token, None)

    def _forget_stale(self) -> None:
        limit = time.monotonic() - self.services.settings.watch.reservation_seconds
        for token, reservation in list(self._reservations.items()):
            if reservation.stream is None and reservation.made < limit:
                del self._reservations[token]

    # ------------------------------------------------------------------ shared
    def _check_capacity(self) -> None:
        if self.services.closing.is_set():
            raise Unavailable("the server is shutting down")
        limit = self.services.settings.watch.max_streams
        if self.open_streams >= limit:
            raise Unavailable(f"too many open event streams ({limit}); try again later")

    async def _run(
        self, stream: EventStream, receive: Receive, send: Send, request_id: str
    ) -> None:
        self._streams.open += 1
        try:
            await stream.run(receive, send, [(b"x-request-id", request_id.encode("latin-1"))])
        finally:
            self._streams.open -= 1

    async def _pump(
        self, stream: EventStream, operation: Operation, operation_id: str | None, *, finish: bool
    ) -> None:
        context = RequestContext(
            operation.request_id,
            self.services,
            operation.principal,
            operation.kind.value,
            repository=operation.repository,
        )
        try:
            async with aclosing(results(operation, context, self.shared)) as produced:
                async for payload in produced:
                    await stream.put(next_message(payload, operation_id))
            await stream.put(complete_message(operation_id))
        except StreamClosed:
            return
        except (PermanentError, RetryableError) as exc:  # e.g. the store went away mid-watch
            log.warning("request %s: event stream ended: %s", operation.request_id, exc.message)
            with contextlib.suppress(StreamClosed):
                await stream.put(
                    next_message(refused([request_error(exc.message, exc.code)]), operation_id)
                )
                await stream.put(complete_message(operation_id))
        except Exception:
            log.exception("request %s: event stream operation failed", operation.request_id)
            with contextlib.suppress(StreamClosed):
                await stream.put(
                    next_message(refused([internal_error(operation.request_id)]), operation_id)
                )
                await stream.put(complete_message(operation_id))
        finally:
            if finish:
                stream.finish()


def _principal_id(principal: Principal | None) -> str | None:
    if principal is None:
        return None
    return principal.user_id
