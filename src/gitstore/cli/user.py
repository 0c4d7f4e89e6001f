"""``gitstore user create NAME [--admin] --password-stdin``: create a user directly in the
metadata store.

Works on a fresh data dir and whether or not ``gitstore api`` is running: it opens the store
named by ``--db-url`` / ``GITSTORE_DB__URL`` (default: the SQLite file in the data dir),
applies migrations and creates the user with the same rules as the API (username a DNS label,
password at least 8 characters, argon2 hash, audit entry by ``cli``). The password comes from
stdin (one line; a trailing newline is dropped) or, on a terminal without
``--password-stdin``, from a prompt. A taken username is one error line and exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from gitstore.api.identity.actions import create_user
from gitstore.api.identity.passwords import Passwords
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.config import Settings
from gitstore.domain.errors import InvalidArgument

from .options import add_data_dir, settings_from_args


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("user", help="manage users", description="Manage users.")

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=usage)
    actions = parser.add_subparsers(dest="user_command", metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create a user",
        description="Create a user in the metadata store (the API need not be running).",
    )
    create.add_argument("name", help="username (a DNS label: a-z, 0-9, '-', 1-63 characters)")
    create.add_argument("--admin", action="store_true", help="make the user an administrator")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (one line)"
    )
    add_data_dir(create)
    create.add_argument(
        "--db-url",
        default=None,
        help="metadata store URL [GITSTORE_DB__URL] (sqlite in the data dir)",
    )
    create.set_defaults(handler=run_create)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        text = sys.stdin.read()
        password = text[:-1] if text.endswith("\n") else text
        password = password[:-1] if password.endswith("\r") else password
        if "\n" in password or "\r" in password:
            raise InvalidArgument("the password on stdin must be a single line", field="password")
        return password
    if not sys.stdin.isatty():
        raise InvalidArgument("stdin is not a terminal: pass --password-stdin", field="password")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise InvalidArgument("the passwords do not match", field="password")
    return password


def run_create(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    settings = settings_from_args(args)
    asyncio.run(_create(settings, args.name, password, admin=args.admin))
    print(f"created user {args.name}{' (admin)' if args.admin else ''}")
    return 0


async def _create(settings: Settings, name: str, password: str, *, admin: bool) -> None:
    store = open_metadata_store(settings.db_url())
    try:
        await store.migrate()
        await create_user(store, Passwords(), name, password, is_admin=admin, actor="cli")
    finally:
        await store.close()
