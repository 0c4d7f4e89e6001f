"""The MCP server over streamable HTTP at ``/mcp`` on the API (``create_app``).

Authentication is GraphQL's: ``Authorization: Bearer <personal access token or login
token>``. A bad or revoked token is refused with 401 (``WWW-Authenticate: Bearer``) before the
MCP layer sees the request; no header means anonymous (what anonymous GraphQL may read).
Each tool call authenticates its own request again and runs its GraphQL operations
in-process as that principal (``InProcessExecutor``), so scopes and namespace roles apply
exactly as on ``/graphql``.

The session manager is stateless (every POST is a whole exchange: no session affinity, any
API process can answer) and answers plain JSON (``json_response``: a tool call is one request
and one response; no server-to-client stream is kept open); it runs inside the app's lifespan
(``lifespan()``). DNS-rebinding
protection (Host/Origin allow-lists) is off: credentials are bearer tokens only, never
cookies, so a page that rebinds a name to the API has no credentials to use.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.server import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from gitstore.domain.errors import TooManyAttempts, Unauthenticated

from ..services import ApiServices
from .executor import GraphQLAnswer, GraphQLExecutor, InProcessExecutor
from .tools import build_server

PATH = "/mcp"


class _Refused:
    """The executor of a request whose credentials failed between checks (e.g. revoked)."""

    def __init__(self, message: str, code: str) -> None:
        self.answer = GraphQLAnswer(None, [{"message": message, "extensions": {"code": code}}])

    async def execute(self, query: str, variables: dict[str, Any]) -> GraphQLAnswer:
        return self.answer


class McpHttp:
    """The ASGI app served at ``/mcp`` (a ``Route`` endpoint) and its lifespan."""

    def __init__(self, services: ApiServices) -> None:
        self.services = services
        self.server: FastMCP = build_server(
            self._executor_for,
            stateless_http=True,
            json_response=True,
            max_request_body_size=services.settings.api.max_body_bytes,  # as /graphql
            streamable_http_path="/",
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.server.streamable_http_app()  # makes the session manager
        self._app = StreamableHTTPASGIApp(self.server.session_manager)

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        return self.server.session_manager.run()

    async def _executor_for(self, ctx: Context[Any, Any, Any]) -> GraphQLExecutor:
        request = ctx.request_context.request
        header = request.headers.get("authorization") if isinstance(request, Request) else None
        try:
            principal = await self.services.authenticator.authenticate_header(header)
        except Unauthenticated as exc:
            return _Refused(exc.message, exc.code)
        return InProcessExecutor(self.services, principal)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = Request(scope).headers.get("authorization")
            try:
                await self.services.authenticator.authenticate_header(header)
            except TooManyAttempts as exc:
                response = JSONResponse(
                    {"error": exc.code, "message": exc.message},
                    status_code=429,
                    headers={"Retry-After": str(exc.retry_after)},
                )
                await response(scope, receive, send)
                return
            except Unauthenticated as exc:
                response = JSONResponse(
                    {"error": exc.code, "message": exc.message},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="gitstore", error="invalid_token"'},
                )
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)
