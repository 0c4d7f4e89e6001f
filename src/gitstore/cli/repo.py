"""``gitstore repo optimize NS/REPO ... | --all``: repository housekeeping now.

Asks the running git service (``--git-grpc-uri``) to ``OptimizeRepository``: by default what
its heuristics say is due (the same check the service schedules after writes), with
``--eager`` a full repack, prune of objects unreachable longer than the grace period,
commit-graph and bitmaps. One line per repository: what ran and the objects, packs and bytes
before and after (``--json``: one JSON object per line). With ``--all`` every repository
(optionally of ``--namespace``) in turn, with a progress count on stderr on a terminal.
Exit code 1 when any repository failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from google.protobuf.json_format import MessageToDict

from gitstore.config import Settings
from gitstore.domain.errors import GitStoreError, InvalidArgument
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb

from .options import add_git_client_flags, settings_from_args


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "repo", help="repository maintenance", description="Repository maintenance."
    )
    commands = parser.add_subparsers(dest="repo_command", metavar="COMMAND", required=True)
    optimize = commands.add_parser(
        "optimize",
        help="repack, prune and refresh the commit-graph of repositories",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    optimize.add_argument("repositories", nargs="*", metavar="NS/REPO", help="repository ids")
    optimize.add_argument("--all", action="store_true", help="every repository")
    optimize.add_argument("--namespace", default="", help="with --all: only this namespace")
    optimize.add_argument(
        "--eager", action="store_true", help="full repack and prune now, not only what is due"
    )
    optimize.add_argument("--json", action="store_true", help="one JSON object per line")
    optimize.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per repository (3600)"
    )
    add_git_client_flags(optimize)
    optimize.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.repositories) == bool(args.all):
        raise InvalidArgument("name repositories (NS/REPO ...) or give --all, not both")
    return asyncio.run(_run(args, settings_from_args(args)))


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def describe(repository_id: str, response: pb.OptimizeRepositoryResponse) -> str:
    if response.skipped:
        return f"{repository_id}: skipped ({response.reason})"
    if not response.actions:
        return f"{repository_id}: nothing to do ({response.reason})"
    b, a = response.before, response.after
    before_bytes = b.loose_bytes + b.pack_bytes + b.garbage_bytes
    after_bytes = a.loose_bytes + a.pack_bytes + a.garbage_bytes
    return (
        f"{repository_id}: {', '.join(response.actions)} in {response.seconds:.1f} s "
        f"({response.reason}); {_mib(before_bytes)} -> {_mib(after_bytes)}, "
        f"packs {b.packs} -> {a.packs}, loose objects {b.loose_objects} -> {a.loose_objects}"
    )


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    failed = 0
    progress = sys.stderr.isatty() and args.all
    async with GitClient.from_settings(settings) as git:
        if args.all:
            ids = [r.repository_id for r in await git.list_repositories(args.namespace)]
        else:
            ids = list(args.repositories)
        for number, repository_id in enumerate(ids, 1):
            try:
                response = await git.optimize_repository(
                    repository_id, eager=args.eager, timeout=args.timeout
                )
            except GitStoreError as exc:
                failed += 1
                line = f"{repository_id}: failed: {exc.message}"
                record: dict[str, Any] = {"repository_id": repository_id, "error": exc.message}
            else:
                line = describe(repository_id, response)
                record = {"repository_id": repository_id, **MessageToDict(response)}
            if progress:
                sys.stderr.write("\r\x1b[K")
            print(json.dumps(record) if args.json else line, flush=True)
            if progress:
                sys.stderr.write(f"optimized {number}/{len(ids)}")
                sys.stderr.flush()
        if progress:
            sys.stderr.write("\n")
    return 1 if failed else 0
