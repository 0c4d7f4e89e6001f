"""``gitstore serve``: everything in one process on embedded backends (data in ``./data``).

The same services as the separate commands, started together on one event loop and
stopped together on SIGTERM/SIGINT (see ``runner``); they still talk through their real
boundaries (the git service over gRPC, events through the queue in the data dir). Today
the list holds the git service; the API and the worker join it as they are built, in the
order they depend on each other (git service first, so the API finds it).
"""

from __future__ import annotations

import argparse
import asyncio

from gitstore.config import Settings

from .git_service import GitServiceUnit
from .options import add_data_dir, add_git_service_flags, add_queue_flags, settings_from_args
from .runner import Service, run_services


def services(settings: Settings) -> list[Service]:
    """The services ``serve`` runs, in start order."""
    return [GitServiceUnit(settings)]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run every service in one process (embedded backends, data in ./data)",
        description="Run the git service (and the services built so far) together on "
        "embedded backends. Runs until SIGTERM/SIGINT.",
    )
    add_data_dir(parser)
    add_git_service_flags(parser)
    add_queue_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run_services(services(settings)))
    return 0
