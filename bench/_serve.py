"""Run a real ``gitstore serve`` as a subprocess for a benchmark, with a catalogue in it.

``ServeProcess`` starts ``python -m gitstore serve`` the way an operator does (data dir,
``--api-port``, ``--grpc-port``, backends by environment: ``GITSTORE_KV__URL``,
``GITSTORE_QUEUE__URL`` ...), logs to ``serve.log`` in its scratch directory, and is ready
once ``/healthz`` answers and the gRPC channel to its git service connects.

``prepare_catalog`` gives the benchmark a repository holding a big fixture without pushing
100,000 files through the API: it creates an admin user (``gitstore user create``), a
namespace and a PUBLIC, ON_COMMIT repository through GraphQL, stops the server, drops the
fixture's pack and branch ref into the bare repository the git service created (its config,
lock file and fan-out directories stay), and starts the server again. Nothing has told the
worker about that content yet: the first commit afterwards makes it project the whole tree
(``base`` unknown -> a full projection), which the benchmark times as setup.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import grpc
from _util import free_port, healthy

ADMIN = "bench-admin"
PASSWORD = "bench-password-123"


class ServeProcess:
    def __init__(self, scratch: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.scratch = scratch
        self.data_dir = scratch / "data"
        self.api_port = free_port()
        self.grpc_port = free_port()
        self.grpc_address = f"127.0.0.1:{self.grpc_port}"
        self.log_path = scratch / "serve.log"
        self.env = {
            **os.environ,
            "GITSTORE_DATA_DIR": str(self.data_dir),
            "GITSTORE_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.args = args

    def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable,
            "-m",
            "gitstore",
            "serve",
            "--api-port",
            str(self.api_port),
            "--grpc-port",
            str(self.grpc_port),
            "--ssh-port",
            "0",
            "--hook-port",
            "0",
            *self.args,
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not healthy(self.api_port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"gitstore serve exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gitstore serve not ready after {timeout:.0f}s\n" + self.log_tail()
                )
            time.sleep(0.1)
        with grpc.insecure_channel(self.grpc_address) as channel:
            grpc.channel_ready_future(channel).result(timeout=max(1.0, deadline - time.monotonic()))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def repo_dir(self, repository: str) -> Path:
        return self.data_dir / "repos" / f"{repository}.git"


class Http:
    """One keep-alive HTTP/1.1 connection for the benchmark's own sequential requests."""

    IDLE_SECONDS = 2.0  # below uvicorn's keep-alive timeout (5 s)

    def __init__(self, port: int, token: str | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.last_used = 0.0

    def ensure_fresh(self) -> None:
        """Reconnect (untimed) if the server may have closed the idle connection."""
        if time.monotonic() - self.last_used > self.IDLE_SECONDS:
            self.connection.close()
            self.connection.connect()
            self.last_used = time.monotonic()

    def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        self.last_used = time.monotonic()
        return response.status, raw

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self._exchange("POST", path, body)

    def get(self, path: str) -> tuple[int, bytes]:
        return self._exchange("GET", path, None)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.ensure_fresh()
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        status, raw = self.post("/graphql", body)
        answer: dict[str, Any] = json.loads(raw)
        if status != 200 or answer.get("errors"):
            raise RuntimeError(f"GraphQL HTTP {status}: {raw[:500]!r}")
        data: dict[str, Any] = answer["data"]
        return data

    def close(self) -> None:
        self.connection.close()


def _mutate(http: Http, query: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
    payload: dict[str, Any] = http.graphql(query, variables)[field]
    if payload.get("userErrors"):
        raise RuntimeError(f"{field}: {payload['userErrors']}")
    return payload


def login(port: int) -> str:
    http = Http(port)
    try:
        payload = _mutate(
            http,
            "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p})"
            " { token userErrors { field message code } } }",
            {"u": ADMIN, "p": PASSWORD},
            "login",
        )
    finally:
        http.close()
    return str(payload["token"])


class _Deployment(Protocol):
    env: dict[str, str]


def create_admin(server: _Deployment) -> None:
    subprocess.run(
        [sys.executable, "-m", "gitstore", "user", "create", ADMIN, "--admin", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=server.env,
        check=True,
        capture_output=True,
    )


def create_repository(port: int, token: str, repository: str) -> None:
    namespace, name = repository.split("/")
    http = Http(port, token)
    try:
        _mutate(
            http,
            "mutation($i: CreateNamespaceInput!) { createNamespace(input: $i)"
            " { namespace { id } userErrors { field message code } } }",
            {"i": {"identifier": namespace, "tier": "ORGANISATION"}},
            "createNamespace",
        )
        _mutate(
            http,
            "mutation($i: CreateRepositoryInput!) { createRepository(input: $i)"
            " { repository { id } userErrors { field message code } } }",
            {
                "i": {
                    "namespace": namespace,
                    "name": name,
                    "publishMode": "ON_COMMIT",
                    "defaultBranch": "main",
                    "visibility": "PUBLIC",
                }
            },
            "createRepository",
        )
    finally:
        http.close()


def inject_fixture(fixture: Path, repo: Path, branch: str = "main") -> str:
    """Copy the fixture's packs and branch head into the (empty, stopped) bare ``repo``."""
    head = subprocess.run(
        ["git", "--git-dir", str(fixture), "rev-parse", f"refs/heads/{branch}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    packs = list((fixture / "objects" / "pack").glob("pack-*"))
    if not packs:
        raise RuntimeError(f"fixture {fixture} holds no pack (not built by git fast-import?)")
    for pack in packs:
        shutil.copy2(pack, repo / "objects" / "pack" / pack.name)
    ref = repo / "refs" / "heads" / branch
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(head + "\n")
    return head


def prepare_catalog(server: ServeProcess, fixture: Path, repository: str) -> str:
    """Start ``server`` with ``repository`` holding ``fixture``; returns an admin token."""
    create_admin(server)
    server.start()
    token = login(server.api_port)
    create_repository(server.api_port, token, repository)
    server.stop()
    inject_fixture(fixture, server.repo_dir(repository))
    server.start()
    return token
