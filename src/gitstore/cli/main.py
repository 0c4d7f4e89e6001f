"""The ``gitstore`` command.

Each subcommand lives in its own module of this package and exposes
``register(subparsers) -> None``; the module list below is the whole command surface.
Errors of the project's own types end the command with one clear line on stderr and exit
code 2 (bad input) or 1 (anything else); no traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gitstore import __version__
from gitstore.cli import warnings_policy
from gitstore.domain.errors import GitStoreError, InvalidArgument

# Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = (
    "serve",
    "git_service",
    "api",
    "worker",
    "controllers",
    "events",
    "repo",
    "user",
    "demo",
    "mcp",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gitstore",
        description="GitStore: a Git-backed commerce catalogue engine.",
    )
    parser.add_argument("--version", action="version", version=f"gitstore {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--log-level", default=None, help="log level (default: GITSTORE_LOG_LEVEL or INFO)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"gitstore.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"gitstore.cli.{name}":
                continue  # not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    warnings_policy.install()  # before build_parser imports the subcommands' libraries
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=(args.log_level or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result = args.handler(args)
        return int(result or 0)
    except KeyboardInterrupt:
        return 130
    except GitStoreError as exc:
        if args.debug:
            raise
        print(f"gitstore: error: {exc.message}", file=sys.stderr)
        return 2 if isinstance(exc, InvalidArgument) else 1
    except OSError as exc:
        if args.debug:
            raise
        print(f"gitstore: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
