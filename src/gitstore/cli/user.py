"""``gitstore user ...``: operator tooling over the metadata store.

* ``create NAME [--admin] [--password-stdin]``: a new user;
* ``list [--json]``: every user (username, admin, disabled, created);
* ``disable NAME`` / ``enable NAME``: a disabled user is refused everywhere (login, login
  tokens, access tokens, Smart HTTP, SSH keys); disabling also ends the user's login sessions
  (re-enabling does not bring them back); already so is not an error;
* ``reset-password NAME [--password-stdin]``: a new password, and the user's login sessions
  end (access tokens and SSH keys are not touched; revoke those separately).

Each works on a fresh data dir and whether or not ``gitstore api`` is running: it opens the
store named by ``--db-url`` / ``GITSTORE_DB__URL`` (default: the SQLite file in the data dir),
applies migrations and applies the same rules as the API (username a DNS label, password at
least 8 characters, argon2 hash); every change is written to the audit log with actor ``cli``.
A password comes from stdin (one line; a trailing newline is dropped) or, on a terminal
without ``--password-stdin``, from a prompt. A taken or unknown username is one error line and
exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gitstore.api.identity.actions import create_user, reset_password, set_user_disabled
from gitstore.api.identity.passwords import Passwords
from gitstore.backends.metadata.base import MetadataStore, User
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.config import Settings
from gitstore.domain.errors import InvalidArgument

from .options import add_data_dir, settings_from_args

T = TypeVar("T")
PAGE = 100


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
    _add_store_flags(create)
    create.set_defaults(handler=run_create)

    listing = actions.add_parser(
        "list", help="list users", description="List every user, oldest first."
    )
    listing.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    _add_store_flags(listing)
    listing.set_defaults(handler=run_list)

    for name, disabled, text in (
        ("disable", True, "disable a user and end their login sessions"),
        ("enable", False, "enable a disabled user"),
    ):
        action = actions.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        action.add_argument("name", help="username")
        _add_store_flags(action)
        action.set_defaults(handler=run_set_disabled, disabled=disabled)

    reset = actions.add_parser(
        "reset-password",
        help="set a new password and end the user's login sessions",
        description="Set a new password for a user and end their login sessions.",
    )
    reset.add_argument("name", help="username")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (one line)"
    )
    _add_store_flags(reset)
    reset.set_defaults(handler=run_reset_password)


def _add_store_flags(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser)
    parser.add_argument(
        "--db-url",
        default=None,
        help="metadata store URL [GITSTORE_DB__URL] (sqlite in the data dir)",
    )


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
    await _with_store(
        settings,
        lambda store: create_user(store, Passwords(), name, password, is_admin=admin, actor="cli"),
    )


def _run(settings: Settings, work: Callable[[MetadataStore], Awaitable[T]]) -> T:
    return asyncio.run(_with_store(settings, work))


async def _with_store(settings: Settings, work: Callable[[MetadataStore], Awaitable[T]]) -> T:
    store = open_metadata_store(settings.db_url())
    try:
        await store.migrate()
        return await work(store)
    finally:
        await store.close()


async def _all_users(store: MetadataStore) -> list[User]:
    users: list[User] = []
    after: str | None = None
    while True:
        page = await store.list_users(first=PAGE, after=after)
        users.extend(page.items)
        if not page.has_next_page:
            return users
        after = page.end_cursor


def run_list(args: argparse.Namespace) -> int:
    users = _run(settings_from_args(args), _all_users)
    rows = [
        {
            "username": u.username,
            "admin": u.is_admin,
            "disabled": u.disabled,
            "created": u.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        for u in users
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = {k: k.upper() for k in ("username", "admin", "disabled", "created")}
    table = [header] + [{k: _cell(v) for k, v in row.items()} for row in rows]
    widths = {k: max(len(str(r[k])) for r in table) for k in header}
    for row in table:
        print("  ".join(str(row[k]).ljust(widths[k]) for k in header).rstrip())
    return 0


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def run_set_disabled(args: argparse.Namespace) -> int:
    disabled: bool = args.disabled

    async def work(store: MetadataStore) -> tuple[User, bool]:
        return await set_user_disabled(store, args.name, disabled, actor="cli")

    _user, changed = _run(settings_from_args(args), work)
    state = "disabled" if disabled else "enabled"
    if not changed:
        print(f"user {args.name} is already {state}")
    elif disabled:
        print(f"disabled user {args.name} (their login sessions have ended)")
    else:
        print(f"enabled user {args.name}")
    return 0


def run_reset_password(args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)

    async def work(store: MetadataStore) -> User:
        return await reset_password(store, Passwords(), args.name, password, actor="cli")

    _run(settings_from_args(args), work)
    print(f"password of {args.name} reset (their login sessions have ended)")
    return 0
