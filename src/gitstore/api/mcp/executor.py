"""Where the MCP tools' GraphQL operations run: one interface, two transports.

Every tool is a GraphQL operation, so what a tool may do is exactly what the caller's token
may do over GraphQL (scopes, namespace roles, private repositories):

* :class:`InProcessExecutor` (streamable HTTP mounted on the API): the operation is prepared
  by the API's document cache (the same validation and limits) and executed against the
  schema in force with a ``RequestContext`` holding the caller's principal, as
  ``graphql_http`` does for ``POST /graphql``;
* :class:`HttpExecutor` (``gitstore mcp`` over stdio): the operation is POSTed to
  ``<api>/graphql`` with ``Authorization: Bearer <token>``.

Both answer a :class:`GraphQLAnswer` (``data`` and GraphQL ``errors`` as the HTTP body has
them); transport failures become an answer with one error (``UNAVAILABLE``,
``UNAUTHENTICATED``) rather than an exception, so a tool can report them like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import getrandbits
from typing import Any, Protocol

import httpx
from graphql import ExecutionResult, GraphQLError, execute

from gitstore.domain.errors import GitStoreError

from ..context import RequestContext
from ..errors import format_error
from ..graphql.execution.documents import DocumentError
from ..graphql.execution.plan import is_awaitable
from ..identity.principal import Principal
from ..services import ApiServices


@dataclass
class GraphQLAnswer:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)


class GraphQLExecutor(Protocol):
    async def execute(self, query: str, variables: dict[str, Any]) -> GraphQLAnswer: ...


def _error(message: str, code: str) -> GraphQLAnswer:
    return GraphQLAnswer(None, [{"message": message, "extensions": {"code": code}}])


class InProcessExecutor:
    """Operations run in the API process as ``principal`` (None: anonymous)."""

    def __init__(self, services: ApiServices, principal: Principal | None) -> None:
        self.services = services
        self.principal = principal

    async def execute(self, query: str, variables: dict[str, Any]) -> GraphQLAnswer:
        services = self.services
        request_id = f"mcp-{getrandbits(64):016x}"
        snapshot = services.holder.current
        try:
            prepared = services.documents.prepare(snapshot, query)
            operation = prepared.operation(None)
        except DocumentError as exc:
            return GraphQLAnswer(None, [format_error(e, request_id) for e in exc.errors])
        except GraphQLError as exc:
            return GraphQLAnswer(None, [format_error(exc, request_id)])
        context = RequestContext(request_id, services, self.principal, operation.operation.value)
        try:
            outcome = execute(
                snapshot.schema,
                prepared.document,
                context_value=context,
                variable_values=variables,
                is_awaitable=is_awaitable,
            )
            result = outcome if isinstance(outcome, ExecutionResult) else await outcome
        except GitStoreError as exc:
            return _error(exc.message, exc.code)
        errors = [format_error(e, request_id) for e in result.errors or ()]
        return GraphQLAnswer(result.data, errors)


class HttpExecutor:
    """Operations POSTed to ``<base_url>/graphql`` with a bearer token."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def execute(self, query: str, variables: dict[str, Any]) -> GraphQLAnswer:
        headers = {"accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        endpoint = f"{self.base_url}/graphql"
        try:
            response = await self._http.post(
                endpoint, json={"query": query, "variables": variables}, headers=headers
            )
        except httpx.HTTPError as exc:
            return _error(f"cannot reach the GitStore API at {self.base_url}: {exc}", "UNAVAILABLE")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not ("data" in body or "errors" in body):
            return _error(
                f"{endpoint} did not answer like a GitStore API (HTTP {response.status_code})",
                "UNAVAILABLE",
            )
        data = body.get("data")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        return GraphQLAnswer(data if isinstance(data, dict) else None, errors)
