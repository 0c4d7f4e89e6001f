"""``gitstore serve``: everything in one process on embedded backends (data in ``./data``).

The same services as the separate commands, started together on one event loop and
stopped together on SIGTERM/SIGINT (see ``runner``); they still talk through their real
boundaries (the git service over gRPC, events through the queue in the data dir). The list
holds the git service, then the API (pointed at the git service's bound address) and the
worker, in the order they depend on each other.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from gitstore.config import Settings
from gitstore.controllers.service import ControllersService
from gitstore.worker.service import WorkerService

from .api import ApiUnit, add_api_flags
from .git_service import GitServiceUnit
from .options import (
    add_data_dir,
    add_git_service_flags,
    add_hook_server_flags,
    add_kv_flags,
    add_queue_flags,
    add_ssh_flags,
    settings_from_args,
    with_git_uri,
)
from .runner import SHUTDOWN_DEADLINE, Service, run_services


def services(settings: Settings) -> list[Service]:
    """The services ``serve`` runs, in start order: the API needs the git service's address."""
    git = GitServiceUnit(settings)

    def git_uri() -> str:
        return git.handle.address if git.handle is not None else settings.git.grpc.uri

    api = ApiUnit(settings, git_uri=git_uri)
    units: list[Service] = [
        git,
        api,
        _HookLink(git, api),
        _ServeWorker(settings, git_uri=git_uri, api=api),
    ]
    c = settings.controllers
    if c.token is not None and c.repository_list():
        units.append(_ServeControllers(settings, api))
    return units


class _ServeControllers:
    """The built-in controllers, as API clients of this process's own API over HTTP (when
    ``GITSTORE_CONTROLLERS__TOKEN`` and ``__REPOSITORIES`` are set); metrics on ``/metrics``."""

    name = "controllers"

    def __init__(self, settings: Settings, api: ApiUnit) -> None:
        self.settings = settings
        self._api = api
        self._service: ControllersService | None = None

    def _url(self) -> str:
        host = self.settings.api.host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard bind is reached locally
            host = "127.0.0.1"
        return f"http://{host}:{self._api.port}"

    async def start(self) -> None:
        self._service = ControllersService(
            self.settings.controllers, api_url=self._url, registry=self._api.registry
        )
        await self._service.start()

    async def stop(self) -> None:
        if self._service is not None:
            await self._service.stop()


class _HookLink:
    """Points the git service (push hooks, SSH logins) at the API's hook service once the API
    has bound it (its port may have been chosen by the OS)."""

    name = "hook-link"

    def __init__(self, git: GitServiceUnit, api: ApiUnit) -> None:
        self._git = git
        self._api = api

    async def start(self) -> None:
        address = self._api.hook_address
        if address is not None:
            self._git.set_hook_uri(address)

    async def stop(self) -> None:
        return None


class _ServeWorker:
    """The worker, started once the git service's address is known; its metrics are served
    on the API's ``/metrics``."""

    name = "worker"

    def __init__(self, settings: Settings, *, git_uri: Callable[[], str], api: ApiUnit) -> None:
        self.settings = settings
        self._git_uri = git_uri
        self._api = api
        self._worker: WorkerService | None = None

    async def start(self) -> None:
        self._worker = WorkerService(
            with_git_uri(self.settings, self._git_uri()), registry=self._api.registry
        )
        await self._worker.start()

    async def stop(self) -> None:
        if self._worker is not None:
            await self._worker.stop()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run every service in one process (embedded backends, data in ./data)",
        description="Run the git service, the API and the worker together on embedded backends "
        "(data in --data-dir). Runs until SIGTERM/SIGINT.",
    )
    add_data_dir(parser)
    add_git_service_flags(parser)
    add_queue_flags(parser)
    add_api_flags(parser)
    add_kv_flags(parser)
    add_ssh_flags(parser)
    add_hook_server_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_services(services(settings), deadline=SHUTDOWN_DEADLINE))
    return 0
