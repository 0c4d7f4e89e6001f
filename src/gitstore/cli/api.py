"""``gitstore api``: serve the GraphQL API over HTTP with uvicorn.

Listens on ``--api-host``/``--api-port`` (``GITSTORE_API__HOST``/``PORT``, 127.0.0.1:8080),
keeps users and tokens in the metadata store (``--db-url``, default the SQLite file in
``--data-dir``) and reaches the git service at ``--git-grpc-uri``. Configuration errors found
before serving (a bad store URL, a too-short JWT secret) are one clear error line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator

import uvicorn
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from gitstore import listening
from gitstore.api.app import create_app
from gitstore.api.identity.signing_key import load_signing_key
from gitstore.api.services import ApiServices
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.backends.resources import open_resource_store
from gitstore.config import Settings
from gitstore.domain.errors import Unavailable
from gitstore.domain.resources.watch import ResourceFeed

from .options import (
    add_data_dir,
    add_git_client_flags,
    add_hook_server_flags,
    settings_from_args,
    with_git_uri,
)
from .runner import SHUTDOWN_DEADLINE, run_services

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api",
        help="run the GraphQL API (HTTP)",
        description="Serve /graphql, /healthz and /metrics over HTTP.",
    )
    add_data_dir(parser)
    add_git_client_flags(parser)
    add_api_flags(parser)
    add_hook_server_flags(parser)
    parser.set_defaults(handler=run)


def add_api_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-host", default=None, help="HTTP bind address [GITSTORE_API__HOST] (127.0.0.1)"
    )
    parser.add_argument(
        "--api-port", type=int, default=None, help="HTTP port [GITSTORE_API__PORT] (8080)"
    )
    parser.add_argument(
        "--db-url",
        default=None,
        help="metadata store URL: sqlite:///..., postgresql://... [GITSTORE_DB__URL]",
    )


def check_settings(settings: Settings) -> None:
    """Fail fast, with the project's error types, on what the lifespan would trip over."""
    open_metadata_store(settings.db_url())  # validates the URL; opens nothing
    open_resource_store(settings.resources_url(), retain=settings.resources.retain)
    secret = settings.api.jwt_secret.get_secret_value() if settings.api.jwt_secret else None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_signing_key(secret, settings.data_dir, settings.api.jwt_algorithm)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: ``runner.run_services`` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiUnit:
    """The API (uvicorn + the ASGI app) as a ``runner.Service`` on the caller's event loop.

    ``git_uri`` lets ``serve`` point the API at the git service it just started (whose port
    may have been chosen by the OS); by default the API uses ``settings.git.grpc.uri``.
    """

    name = "api"

    def __init__(
        self,
        settings: Settings,
        *,
        git_uri: Callable[[], str] | None = None,
        resource_feed: ResourceFeed | None = None,
    ) -> None:
        self.settings = settings
        self._feed = resource_feed
        self._git_uri = git_uri
        self.app: Starlette | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._services: ApiServices | None = None

    @property
    def registry(self) -> CollectorRegistry | None:
        """The app's Prometheus registry once started (``serve`` adds the worker's metrics)."""
        if self.app is None:
            return None
        registry: CollectorRegistry = self.app.state.services.metrics.registry
        return registry

    @property
    def port(self) -> int | None:
        """The bound HTTP port once started (useful with port 0)."""
        if self._server is None or not self._server.servers:
            return None
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1]) if sockets else None

    @property
    def hook_address(self) -> str | None:
        """``host:port`` of the hook gRPC service once started (the git service dials it)."""
        if self.app is None:
            return None
        port = self.app.state.services.hook_port
        if port is None:
            return None
        host = self.settings.hook.grpc.host
        wildcard = host in ("", "::") or host == "0.0.0.0"  # noqa: S104 - a comparison
        return f"{'127.0.0.1' if wildcard else host}:{port}"

    async def start(self) -> None:
        """Bind the HTTP port, start the app's services (the hook service binds its port
        there), then serve HTTP. The app's lifespan is run here rather than by uvicorn, so
        that any failure to start (a taken port among them) is the caller's exception, with
        whatever had started stopped again, instead of a traceback uvicorn logs."""
        settings = self.settings
        if self._git_uri is not None:
            settings = with_git_uri(settings, self._git_uri())
        check_settings(settings)
        self.app = create_app(settings, hook_server=True, resource_feed=self._feed)
        sockets = listening.bind_sockets(settings.api.host, settings.api.port, "HTTP")
        self._services = self.app.state.services
        try:
            await self._services.start()
        except BaseException:
            for sock in sockets:
                sock.close()
            await self._services.stop()
            raise
        config = uvicorn.Config(
            self.app,
            host=settings.api.host,
            port=settings.api.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            server_header=False,
            # X-Forwarded-For is ours to judge (GITSTORE_API__TRUSTED_PROXIES), not uvicorn's
            # (which would believe any process on 127.0.0.1).
            proxy_headers=False,
            # a backstop: open event streams are ended by stop() before uvicorn waits
            timeout_graceful_shutdown=10,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._serve(self._server, sockets), name="uvicorn")
        while not self._server.started:
            if self._task.done():
                await self.stop()  # raises the startup failure
                raise Unavailable(f"the API could not serve HTTP on {settings.api.host}")
            await asyncio.sleep(0.02)
        log.info("API listening on http://%s:%s", settings.api.host, self.port)

    @staticmethod
    async def _serve(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        try:
            await server.serve(sockets=sockets)
        except SystemExit:  # uvicorn's way to report a failed start; never let it end the loop
            raise Unavailable("the HTTP server failed to start") from None
        finally:
            for sock in sockets:
                sock.close()

    async def stop(self) -> None:
        try:
            if self._server is not None and self._task is not None:
                if self._services is not None:
                    await self._services.end_streams()  # uvicorn would wait for them
                self._server.should_exit = True
                await self._task
        finally:
            if self._services is not None:
                services, self._services = self._services, None
                await services.stop()


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_settings(settings)
    asyncio.run(run_services([ApiUnit(settings)], deadline=SHUTDOWN_DEADLINE))
    return 0
