"""The ASGI app of ``gitstore api``: ``/graphql``, ``/mcp``, ``/healthz``, ``/metrics``.

:func:`create_app` wires an :class:`ApiServices` into a Starlette app whose lifespan starts
and stops it. ``/healthz`` answers 200 ``{"status": "ok"}`` only between a completed start
(store migrated, schema published) and the beginning of shutdown, 503 otherwise; it does no
I/O, so it is also the throughput floor the benchmarks compare against. ``/metrics`` is the
Prometheus text of this app's own registry.

Every HTTP request first passes ``ClientAddressMiddleware``, which settles the client's
address (the TCP peer, or what a trusted proxy forwarded) for the sign-in limits.

Each repository has its own store endpoint ``/{namespace}/{repo}/graphql`` (same GraphQL over
HTTP handling, a schema built from that repository's kinds: ``storeschema``). Both routes serve
subscriptions over graphql-sse (``sse``), with one set of stream limits for the process.

Git's Smart HTTP protocol is served under ``/{namespace}/{repo}.git/...`` (``githttp``);
The admin web interface is static files under ``/admin`` (``admin``, docs/admin.md).

``hook_server=True`` also starts the ``HookService`` gRPC server with the app (see
``ApiServices``).

Tests and ``gitstore serve`` may pass a ready metadata store or git client; the app then
uses but does not close them. Otherwise the store comes from ``Settings.db_url()`` and the
git client from ``settings.git.grpc.uri``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitstore.backends.kv import KvStore
from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.queue.base import Queue
from gitstore.config import Settings
from gitstore.domain.resources.watch import ResourceFeed
from gitstore.git.client import GitClient

from .admin import admin_mount
from .catalog.floor import ROUTE as FLOOR_ROUTE
from .catalog.floor import FloorRoute
from .client_address import ClientAddressMiddleware, parse_trusted_proxies
from .githttp import GitHttp
from .graphql.builder import SchemaModule
from .graphql_http import GraphQLEndpoint
from .mcp.http import PATH as MCP_PATH
from .mcp.http import McpHttp
from .services import ApiServices
from .sse.endpoint import GraphQLSse


def create_app(
    settings: Settings,
    *,
    metadata_store: MetadataStore | None = None,
    git_client: GitClient | None = None,
    git_client_factory: Callable[[Settings], GitClient] | None = None,
    modules: Sequence[SchemaModule] | None = None,
    kv_store: KvStore | None = None,
    hook_server: bool = False,
    resource_feed: ResourceFeed | None = None,
    resource_queue: Queue | None = None,
) -> Starlette:
    services = ApiServices(
        settings,
        metadata_store=metadata_store,
        git_client=git_client,
        git_client_factory=git_client_factory,
        modules=modules,
        kv_store=kv_store,
        hook_server=hook_server,
        resource_feed=resource_feed,
        resource_queue=resource_queue,
    )
    metrics = services.metrics
    trusted = parse_trusted_proxies(settings.api.trusted_proxies)
    mcp = McpHttp(services)  # the MCP server for agents (streamable HTTP, docs/mcp.md)

    # Label children bound once: /healthz is the benchmark's floor, keep it honest and cheap.
    healthz_ok = metrics.requests.labels("healthz", "GET", "200")
    healthz_unavailable = metrics.requests.labels("healthz", "GET", "503")
    healthz_duration = metrics.request_duration.labels("healthz")

    async def healthz(_request: Request) -> Response:
        started = time.perf_counter()
        if services.ready:
            response = JSONResponse({"status": "ok"})
        else:
            response = JSONResponse({"status": "unavailable"}, status_code=503)
        (healthz_ok if response.status_code == 200 else healthz_unavailable).inc()
        healthz_duration.observe(time.perf_counter() - started)
        return response

    async def prometheus(_request: Request) -> Response:
        metrics.requests.labels("metrics", "GET", "200").inc()
        return Response(metrics.render(), media_type=metrics.content_type)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            await services.start()
            async with mcp.lifespan():
                yield
        finally:
            await services.stop()

    sse = GraphQLSse(services, GraphQLEndpoint(services))
    app = Starlette(
        routes=[
            Route("/graphql", sse, methods=["GET", "POST", "PUT", "DELETE"]),
            Route(
                "/{namespace}/{repo}/graphql",
                GraphQLSse(services, GraphQLEndpoint(services, services.store_schemas), share=sse),
                methods=["GET", "POST", "PUT", "DELETE"],
            ),
            Route(MCP_PATH, mcp),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            Route(FLOOR_ROUTE, FloorRoute(services).handle, methods=["GET"]),
            *GitHttp(services).routes(),
            # last: a namespace may be called "admin" (its store endpoint and git routes win)
            *admin_mount(),
        ],
        lifespan=lifespan,
        middleware=[Middleware(ClientAddressMiddleware, trusted=trusted)],
    )
    app.state.services = services
    return app
