"""``gitstore user create`` and ``gitstore api`` as an operator runs them (subprocesses),
with the embedded SQLite metadata store in a fresh data dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .server import LOGIN

GITSTORE = [sys.executable, "-m", "gitstore"]


def gitstore(
    *args: str, stdin: str | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITSTORE_")}
    return subprocess.run(
        [*GITSTORE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def test_user_create_then_login_over_http(tmp_path: Path, api_server_factory) -> None:
    created = gitstore(
        "user",
        "create",
        "alice",
        "--admin",
        "--password-stdin",
        "--data-dir",
        str(tmp_path),
        stdin="s3cret-password\n",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "created user alice (admin)"

    server = api_server_factory(data_dir=tmp_path, **{"db.url": ""})  # the SQLite file
    payload = server.graphql(LOGIN, {"u": "alice", "p": "s3cret-password"}).json()["data"]["login"]
    assert payload["userErrors"] == [] and payload["user"]["isAdmin"] is True

    # while the server runs, the CLI can still add users to the same store
    second = gitstore(
        "user",
        "create",
        "bob",
        "--password-stdin",
        "--data-dir",
        str(tmp_path),
        stdin="another-password",
    )
    assert second.returncode == 0, second.stderr
    assert server.login("bob", "another-password")


def test_duplicate_user_is_one_clear_error_line(tmp_path: Path) -> None:
    args = ("user", "create", "carol", "--password-stdin", "--data-dir", str(tmp_path))
    assert gitstore(*args, stdin="password-one\n").returncode == 0
    duplicate = gitstore(*args, stdin="password-two\n")
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip().splitlines() == ["gitstore: error: user 'carol' already exists"]


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("Dave", "long-enough", "username 'Dave' is not a valid DNS label"),
        ("dave", "short", "password must be at least 8 characters"),
        ("dave", "two\nlines", "must be a single line"),
    ],
)
def test_bad_user_input_exits_2_with_the_reason(
    tmp_path: Path, name: str, password: str, message: str
) -> None:
    result = gitstore(
        "user", "create", name, "--password-stdin", "--data-dir", str(tmp_path), stdin=password
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gitstore_api_serves_healthz_and_graphql(tmp_path: Path) -> None:
    port = free_port()
    listeners = ["--api-port", str(port), "--hook-port", "0"]
    process = subprocess.Popen(
        [*GITSTORE, "api", "--data-dir", str(tmp_path), *listeners],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GITSTORE_")},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "gitstore api did not become healthy"
            time.sleep(0.05)
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": "{ viewer { username } }"}
        )
        assert response.json() == {"data": {"viewer": None}}
        assert (tmp_path / "jwt-secret").exists() and (tmp_path / "metadata.sqlite3").exists()
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    # the service runner owns SIGTERM: a graceful shutdown, then a clean exit
    assert process.returncode == 0, output
    assert "api stopped" in output
    assert "Traceback" not in output


def test_gitstore_api_refuses_a_short_jwt_secret(tmp_path: Path) -> None:
    result = gitstore(
        "api",
        "--data-dir",
        str(tmp_path),
        "--api-port",
        "0",
        env={"GITSTORE_API__JWT_SECRET": "short"},
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("gitstore: error: GITSTORE_API__JWT_SECRET is 5 bytes; HS256 needs at least 32")
    )
