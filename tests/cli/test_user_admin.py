"""``gitstore user list|disable|enable|reset-password`` as an operator runs them (real
subprocesses) against the embedded SQLite store and PostgreSQL, and their effect on a running
API sharing the SQLite store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gitstore.api.identity.passwords import Passwords
from gitstore.backends.metadata.base import User
from gitstore.backends.metadata.factory import open_metadata_store
from tests.api.server import LOGIN, api_settings, start_api_server
from tests.servers import POSTGRES_URL, require_server

VIEWER = "{ viewer { username } }"


def gitstore(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITSTORE_")}
    return subprocess.run(
        [sys.executable, "-m", "gitstore", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_flags(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, ...]]:
    """The flags naming a fresh metadata store."""
    if request.param == "sqlite":
        yield ("--data-dir", str(tmp_path))
        return
    url = require_server(POSTGRES_URL, "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        yield ("--data-dir", str(tmp_path), "--db-url", f"{url}?schema={schema}")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


def ok(*args: str, stdin: str | None = None) -> str:
    done = gitstore(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def read_store(flags: tuple[str, ...]) -> tuple[dict[str, User], list[tuple[str, str, str]]]:
    """Users by name and the audit log (actor, action, target), oldest first."""
    url = flags[flags.index("--db-url") + 1] if "--db-url" in flags else None
    url = url or f"sqlite:///{Path(flags[1]).resolve() / 'metadata.sqlite3'}"

    async def read() -> tuple[dict[str, User], list[tuple[str, str, str]]]:
        store = open_metadata_store(url)
        try:
            users = (await store.list_users(first=100)).items
            audit = (await store.list_audit(first=100)).items
            return (
                {u.username: u for u in users},
                [(a.actor, a.action, a.target) for a in reversed(audit)],
            )
        finally:
            await store.close()

    return asyncio.run(read())


def test_list_disable_enable_and_reset_password(store_flags: tuple[str, ...]) -> None:
    ok("user", "create", "alice", "--admin", "--password-stdin", *store_flags, stdin="pw-alice-1\n")
    ok("user", "create", "bob", "--password-stdin", *store_flags, stdin="pw-bob-123\n")

    table = ok("user", "list", *store_flags).splitlines()
    assert table[0].split() == ["USERNAME", "ADMIN", "DISABLED", "CREATED"]
    assert [line.split()[:3] for line in table[1:]] == [["alice", "yes", "no"], ["bob", "no", "no"]]

    assert ok("user", "disable", "bob", *store_flags) == (
        "disabled user bob (their login sessions have ended)\n"
    )
    assert ok("user", "disable", "bob", *store_flags) == "user bob is already disabled\n"
    listed = json.loads(ok("user", "list", "--json", *store_flags))
    assert [(u["username"], u["admin"], u["disabled"]) for u in listed] == [
        ("alice", True, False),
        ("bob", False, True),
    ]
    assert all(u["created"].endswith("Z") for u in listed)
    assert ok("user", "enable", "bob", *store_flags) == "enabled user bob\n"

    reset = ok(
        "user", "reset-password", "bob", "--password-stdin", *store_flags, stdin="new-pw-bob\n"
    )
    assert reset == "password of bob reset (their login sessions have ended)\n"

    users, audit = read_store(store_flags)
    bob = users["bob"]
    assert not bob.disabled and bob.session_epoch == 2  # one for the disable, one for the reset
    assert Passwords().verify(bob.password_hash, "new-pw-bob")
    assert not Passwords().verify(bob.password_hash, "pw-bob-123")
    assert users["alice"].session_epoch == 0
    assert audit == [
        ("cli", "user.create", "alice"),
        ("cli", "user.create", "bob"),
        ("cli", "user.disable", "bob"),  # the repeated disable changed nothing: not audited
        ("cli", "user.enable", "bob"),
        ("cli", "user.reset-password", "bob"),
    ]


@pytest.mark.parametrize(
    "args",
    [("disable", "zed"), ("enable", "zed"), ("reset-password", "zed", "--password-stdin")],
)
def test_an_unknown_user_is_one_error_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = gitstore("user", *args, "--data-dir", str(tmp_path), stdin="long-enough-pw\n")
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["gitstore: error: user 'zed' does not exist"]


def test_a_bad_new_password_changes_nothing(tmp_path: Path) -> None:
    flags = ("--data-dir", str(tmp_path))
    ok("user", "create", "carol", "--password-stdin", *flags, stdin="pw-carol-1\n")
    done = gitstore("user", "reset-password", "carol", "--password-stdin", *flags, stdin="short")
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["gitstore: error: password must be at least 8 characters"]
    users, _audit = read_store(flags)
    assert Passwords().verify(users["carol"].password_hash, "pw-carol-1")
    assert users["carol"].session_epoch == 0


def login(server: Any, user: str, password: str) -> dict[str, Any]:
    payload = server.graphql(LOGIN, {"u": user, "p": password}).json()["data"]["login"]
    assert isinstance(payload, dict)
    return payload


def test_the_running_api_sees_disable_enable_and_reset(tmp_path: Path) -> None:
    flags = ("--data-dir", str(tmp_path))
    ok("user", "create", "dan", "--password-stdin", *flags, stdin="pw-dan-123\n")
    settings = api_settings(tmp_path, **{"db.url": ""})  # the SQLite file the CLI wrote
    with start_api_server(settings) as server:
        session = login(server, "dan", "pw-dan-123")["token"]
        assert server.graphql(VIEWER, token=session).json()["data"]["viewer"] == {"username": "dan"}

        ok("user", "disable", "dan", *flags)
        assert server.graphql(VIEWER, token=session).status_code == 401
        assert login(server, "dan", "pw-dan-123")["userErrors"][0]["code"] == "INVALID_CREDENTIALS"

        ok("user", "enable", "dan", *flags)
        assert server.graphql(VIEWER, token=session).status_code == 401  # that session ended
        session = login(server, "dan", "pw-dan-123")["token"]
        assert server.graphql(VIEWER, token=session).status_code == 200

        ok("user", "reset-password", "dan", "--password-stdin", *flags, stdin="pw-dan-456\n")
        ended = server.graphql(VIEWER, token=session)
        assert ended.status_code == 401
        assert "session has ended" in ended.json()["errors"][0]["message"]
        assert login(server, "dan", "pw-dan-123")["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
        fresh = login(server, "dan", "pw-dan-456")["token"]
        assert server.graphql(VIEWER, token=fresh).json()["data"]["viewer"] == {"username": "dan"}
