"""``gitstore worker``: the parser/projection worker.

Consumes ref-update events (consumer group ``projector``; start several to share the load),
reads changed files through the git service, validates them and projects each repository's
default branch into the KV store (channel ``draft``), recording a status per commit. Runs
until SIGTERM/SIGINT, then finishes in-flight events. See docs/projection.md.
"""

from __future__ import annotations

import argparse
import asyncio

from gitstore.config import Settings
from gitstore.worker.service import WorkerService

from .options import (
    add_data_dir,
    add_git_client_flags,
    add_kv_flags,
    add_queue_flags,
    settings_from_args,
)
from .runner import SHUTDOWN_DEADLINE, run_services


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the parser/projection worker",
        description="Consume ref-update events, validate changed manifests and project each "
        "repository's default branch into the KV store. Runs until SIGTERM/SIGINT.",
    )
    add_data_dir(parser)
    add_queue_flags(parser)
    add_git_client_flags(parser)
    add_kv_flags(parser)
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics on this port, 0 = off [GITSTORE_WORKER__METRICS_PORT] (0)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="events handled at once, across repositories [GITSTORE_WORKER__CONCURRENCY] (4)",
    )
    parser.set_defaults(handler=run)


def worker_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment and the flags; ``InvalidArgument`` naming a bad flag."""
    return settings_from_args(args)


def run(args: argparse.Namespace) -> int:
    service = WorkerService(worker_settings(args), serve_metrics=True)
    asyncio.run(run_services([service], deadline=SHUTDOWN_DEADLINE))
    return 0
