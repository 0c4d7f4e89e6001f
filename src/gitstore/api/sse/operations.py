"""Preparing and running one GraphQL operation for an event stream.

``prepare`` does what ``/graphql`` does before execution — parameters (POST JSON body or GET
URL parameters), persisted queries, the document cache (parse, validation, depth/cost/token
limits), authentication — with the same code (``graphql_http``), and raises its ``Reject``
(status + errors) for a request it refuses. On a store endpoint (the endpoint has a
``source``) the caller is authenticated first and the schema and document cache are the
repository's (``source.select``: a repository the caller cannot read is refused there), and
the operation carries the repository for its ``RequestContext``. ``results`` runs the
operation: a query or mutation gives one result; a subscription gives one per source event.

Subscription events are the same for every watcher of a repository, so their encoding is
shared: an event with a ``key`` (``WatchEvent.key``) is executed and encoded once per
(document, operation, variables) and the bytes reused by every other stream sending it
(a small LRU), which is what keeps 1,000 watchers close to a plain SSE broadcast.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    Executor,
    FieldNode,
    FragmentSpreadNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    create_source_event_stream,
    execute,
    execute_subscription_event,
)
from starlette.requests import Request

from ..context import RequestContext
from ..errors import format_error, request_error
from ..graphql.execution.apq import PersistedQueryError
from ..graphql.execution.documents import PreparedDocument
from ..graphql.execution.plan import is_awaitable
from ..graphql.holder import SchemaSnapshot
from ..graphql_body import Params, Reject
from ..graphql_http import GraphQLEndpoint
from ..identity.principal import Principal

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
SHARED_ENCODINGS = 4096


@dataclass
class Operation:
    snapshot: SchemaSnapshot
    prepared: PreparedDocument
    operation: OperationDefinitionNode
    params: Params
    principal: Principal | None
    request_id: str
    repository: str | None = None  # ``<namespace>/<repo>`` on a store endpoint

    @property
    def kind(self) -> OperationType:
        return self.operation.operation


async def prepare(
    endpoint: GraphQLEndpoint,
    request: Request,
    headers: list[str | None],
    request_id: str,
    authorization: str | None,
) -> Operation:
    """Parse, look up, validate and authenticate (``Reject`` on any refusal)."""
    services = endpoint.services
    if request.method == "GET":
        params = endpoint._get_params(request)
    else:
        params = await endpoint._post_params(request, headers)
    try:
        resolved = services.apq.resolve(params.query, params.extensions)
    except PersistedQueryError as exc:
        raise Reject(400, [request_error(exc.message, exc.code)]) from None
    if resolved.query is None or not resolved.query.strip():
        raise Reject(400, [request_error("the request has no query", "BAD_REQUEST")])
    chosen = await endpoint._prepare(
        request, authorization, resolved.query, params.operation_name, 400, request_id
    )
    operation, principal = chosen.operation, chosen.principal
    if request.method == "GET" and operation.operation is OperationType.MUTATION:
        raise Reject(
            405, [request_error("mutations are not allowed over GET; use POST", "BAD_REQUEST")]
        )
    if endpoint.source is None:
        principal = await endpoint._authenticate(authorization)
    return Operation(
        chosen.snapshot,
        chosen.prepared,
        operation,
        params,
        principal,
        request_id,
        chosen.repository,
    )


class SharedEncodings:
    """Encoded results of keyed subscription events, shared by all streams (LRU)."""

    def __init__(self, size: int = SHARED_ENCODINGS) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], tuple[object, bytes]] = OrderedDict()
        self.hits = 0

    def get(self, key: tuple[Any, ...], document: object) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not document:
            return None
        self.hits += 1
        return entry[1]

    def put(self, key: tuple[Any, ...], document: object, encoded: bytes) -> None:
        self._entries[key] = (document, encoded)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)


def encode(result: ExecutionResult, request_id: str) -> bytes:
    body: dict[str, Any] = {}
    executed = not (
        result.data is None and result.errors and all(e.path is None for e in result.errors)
    )
    if executed:
        body["data"] = result.data
    if result.errors:
        body["errors"] = [format_error(e, request_id) for e in result.errors]
    try:
        return _ENCODER.encode(body).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def _selections_use_variables(operation: OperationDefinitionNode) -> bool:
    """Whether anything under the root fields (not their arguments) may depend on a
    variable: a variable in a sub-selection, a directive on a root field, a fragment."""
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return True
        if selection.selection_set is not None and _uses_variables(selection.selection_set):
            return True
    return False


def _uses_variables(node: Node) -> bool:
    if isinstance(node, VariableNode | FragmentSpreadNode):
        return True
    for key in node.keys:
        value = getattr(node, key, None)
        children = value if isinstance(value, tuple | list) else (value,)
        for child in children:
            if isinstance(child, Node) and _uses_variables(child):
                return True
    return False


def refused(errors: list[dict[str, Any]]) -> bytes:
    return _ENCODER.encode({"errors": errors}).encode("utf-8")


async def results(
    operation: Operation, context: RequestContext, shared: SharedEncodings
) -> AsyncGenerator[bytes, None]:
    """The encoded ExecutionResults of ``operation``."""
    schema = operation.snapshot.schema
    document = operation.prepared.document
    params = operation.params
    if operation.kind is not OperationType.SUBSCRIPTION:
        outcome = execute(
            schema,
            document,
            context_value=context,
            variable_values=params.variables,
            operation_name=params.operation_name,
            is_awaitable=is_awaitable,
        )
        result = outcome if isinstance(outcome, ExecutionResult) else await outcome
        yield encode(result, operation.request_id)
        return
    executor = Executor.build(
        schema,
        document,
        None,
        context,
        params.variables,
        params.operation_name,
        is_awaitable=is_awaitable,
    )
    if isinstance(executor, list):
        yield encode(ExecutionResult(None, errors=executor), operation.request_id)
        return
    source: Any = create_source_event_stream(executor)
    if is_awaitable(source):
        source = await source
    if isinstance(source, ExecutionResult):
        yield encode(source, operation.request_id)
        return
    # variables change an event's result only when used below the root fields (arguments
    # of the root field pick the watch, not how an event looks): leave them out otherwise
    varies = params.variables and _selections_use_variables(operation.operation)
    prefix = (
        id(document),
        params.operation_name,
        _ENCODER.encode(params.variables) if varies else "",
    )
    try:
        async for event in source:
            key = getattr(event, "key", ())
            if key:
                full = (*prefix, *key)
                encoded = shared.get(full, document)
                if encoded is not None:
                    yield encoded
                    continue
            outcome = execute_subscription_event(executor.build_per_event_executor(event))
            result = outcome if isinstance(outcome, ExecutionResult) else await outcome
            encoded = encode(result, operation.request_id)
            if key:
                shared.put(full, document, encoded)
            yield encoded
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
