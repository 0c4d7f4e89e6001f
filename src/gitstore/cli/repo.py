"""``gitstore repo optimize NS/REPO ... | --all``: repository housekeeping now.
``gitstore repo migrate-layout NS/REPO``: move a flat repository to the fan-out layout.
``gitstore repo reindex NS/REPO``: shadow re-indexing (``repo_reindex``).

Asks the running git service (``--git-grpc-uri``) to ``OptimizeRepository``: by default what
its heuristics say is due (the same check the service schedules after writes), with
``--eager`` a full repack, prune of objects unreachable longer than the grace period,
commit-graph and bitmaps. One line per repository: what ran and the objects, packs and bytes
before and after (``--json``: one JSON object per line). With ``--all`` every repository
(optionally of ``--namespace``) in turn, with a progress count on stderr on a terminal.
Exit code 1 when any repository failed.

``migrate-layout`` is an API client (``--url``, ``--token`` or ``GITSTORE_TOKEN``: a
maintainer's, owner's or admin's login or access token): it calls the GraphQL mutation
``migrateRepositoryLayout`` (docs/content-model.md), first with ``dryRun`` to say how many
files will move ("moving N files ..." on stderr), then for real, and prints one line with
the commit. Safe to run again (an already fanned-out repository is reported as such).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any

from google.protobuf.json_format import MessageToDict

from gitstore.config import Settings
from gitstore.domain.errors import GitStoreError, InvalidArgument
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb

from . import repo_reindex
from .graphql_client import GraphQLClient, raise_user_errors
from .options import add_git_client_flags, settings_from_args

DEFAULT_API_URL = "http://127.0.0.1:8080"
MIGRATE = """
mutation Migrate($input: MigrateRepositoryLayoutInput!) {
  migrateRepositoryLayout(input: $input) {
    layout committed commit moved userErrors { field message code }
  }
}"""


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

    migrate = commands.add_parser(
        "migrate-layout",
        help="move a flat repository's manifests to the fan-out layout (one commit)",
        description="Move every manifest of a repository's default branch from "
        "<plural>/<name>.<ext> to <plural>/<bucket>/<name>.<ext> in one commit and write "
        ".gitstore/layout, through the running API (migrateRepositoryLayout). Safe to run again.",
    )
    migrate.add_argument("repository", metavar="NS/REPO", help="<namespace>/<name>")
    migrate.add_argument(
        "--url",
        default=os.environ.get("GITSTORE_API_URL", DEFAULT_API_URL),
        help=f"API base URL (GITSTORE_API_URL, else {DEFAULT_API_URL})",
    )
    migrate.add_argument(
        "--token", help="a maintainer's login or access token (default: GITSTORE_TOKEN)"
    )
    migrate.add_argument("--timeout", type=float, default=600.0, help="seconds (600)")
    migrate.set_defaults(handler=run_migrate)
    repo_reindex.register(commands)


def run_migrate(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("GITSTORE_TOKEN", "")
    if not token:
        raise InvalidArgument("give --token TOKEN or set GITSTORE_TOKEN (a maintainer's token)")
    repository = args.repository
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request
    with GraphQLClient(args.url, token=token, timeout=args.timeout) as client:

        def call(dry_run: bool) -> dict[str, Any]:
            data = client.execute(MIGRATE, {"input": {"repository": repository, "dryRun": dry_run}})
            payload: dict[str, Any] = data["migrateRepositoryLayout"]
            raise_user_errors(payload, f"cannot migrate {repository}")
            return payload

        planned = call(True)
        if planned["commit"] is None:
            print(f"{repository}: empty; its first commit will write the fan-out layout")
            return 0
        if planned["moved"] == 0 and planned["layout"] == "fanout":
            print(f"{repository}: already in the fan-out layout at {planned['commit'][:12]}")
            return 0
        sys.stderr.write(
            f"moving {planned['moved']:,} files of {repository} to the fan-out layout…\n"
        )
        sys.stderr.flush()
        done = call(False)
    print(
        f"{repository}: moved {done['moved']:,} files to the fan-out layout in commit "
        f"{done['commit']}"
    )
    return 0


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
