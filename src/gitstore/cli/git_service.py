"""``gitstore git-service``: the gRPC git service (port 50051) and its event relay.

Serves the repositories in ``--git-data-dir`` (``<data-dir>/repos``), publishes ref-update
events to ``--queue-url`` (the SQLite queue in the data dir by default) and runs until
SIGTERM or SIGINT, then stops gracefully (in-flight RPCs get a few seconds, the relay
publishes what is ready). The bound address is logged: ``git service listening on
127.0.0.1:50051`` (with ``--grpc-port 0`` the port the system chose). Unless ``--no-ssh``,
it also serves git over SSH (gitservice/ssh): ``SSH listening on 127.0.0.1:2222``.
"""

from __future__ import annotations

import argparse
import asyncio

from gitstore.config import Settings
from gitstore.gitservice.server import GitServiceHandle, start_server
from gitstore.gitservice.ssh import SshHandle, start_ssh_server

from .options import (
    add_data_dir,
    add_git_service_flags,
    add_hook_client_flags,
    add_queue_flags,
    add_ssh_flags,
    settings_from_args,
)
from .runner import SHUTDOWN_DEADLINE, run_services


class GitServiceUnit:
    """The git service as a ``runner.Service``; its relay runs on the caller's loop."""

    name = "git-service"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.handle: GitServiceHandle | None = None
        self.ssh: SshHandle | None = None  # git over SSH (settings.ssh.enabled)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.handle = await asyncio.to_thread(start_server, self.settings, relay_loop=loop)
        if self.settings.ssh.enabled:
            try:
                self.ssh = await asyncio.to_thread(
                    start_ssh_server,
                    self.settings,
                    self.handle.store,
                    transport=self.handle.transport,
                )
            except BaseException:
                await asyncio.to_thread(self.handle.stop)
                raise

    def set_hook_uri(self, uri: str) -> None:
        """Reach the API's hook service at ``uri`` (push hooks and SSH logins alike)."""
        if self.handle is not None:
            self.handle.set_hook_uri(uri)
        if self.ssh is not None:
            self.ssh.set_hook_uri(uri)

    async def stop(self) -> None:
        if self.ssh is not None:
            await asyncio.to_thread(self.ssh.stop)
        if self.handle is not None:
            await asyncio.to_thread(self.handle.stop)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "git-service",
        help="run the gRPC git service",
        description="Serve bare repositories over gRPC (GitService, health, reflection) and "
        "publish ref-update events. Runs until SIGTERM/SIGINT.",
    )
    add_data_dir(parser)
    add_git_service_flags(parser)
    add_queue_flags(parser)
    add_ssh_flags(parser)
    add_hook_client_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    asyncio.run(run_services([GitServiceUnit(settings)], deadline=SHUTDOWN_DEADLINE))
    return 0
