"""``gitstore serve`` as a real OS process, driven over HTTP like a user would.

``Served.start(data_dir, env=..., args=...)`` runs ``python -m gitstore serve`` with both
ports chosen by the OS (``--grpc-port 0 --api-port 0``: no race for a free port), reads the
API's port from its log line ``API listening on http://127.0.0.1:<port>`` and returns once the
worker logged ``worker started``. ``stop()`` sends SIGTERM and returns the exit code.

Helpers: ``cli(...)`` runs another ``gitstore`` subcommand with the same environment (to create
users, run the demo); ``gql(...)`` posts one GraphQL request and returns the decoded body;
``git(repo, ...)`` / ``commit_count(repo)`` read the bare repository in the data dir with the
real ``git`` binary (the API never does; the tests check what was committed independently).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"API listening on (http://[0-9.]+:\d+)")
_SSH = re.compile(r"SSH listening on [0-9.]+:(\d+)")
_READY = "worker started"


@dataclass
class Served:
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    url: str = ""
    ssh_port: int = 0
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))
    _pump: threading.Thread | None = None

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        timeout: float = 60.0,
    ) -> Served:
        full_env = {**os.environ, "GITSTORE_GIT__FSYNC": "false", **(env or {})}
        command = [sys.executable, "-m", "gitstore", "serve", "--data-dir", str(data_dir)]
        command += ["--grpc-port", "0", "--api-port", "0", "--ssh-port", "0", "--hook-port", "0"]
        command += args
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        served = cls(data_dir, full_env, proc)
        ready = threading.Event()

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                served.lines.append(line)
                found = _LISTENING.search(line)
                if found:
                    served.url = found.group(1)
                ssh = _SSH.search(line)
                if ssh:
                    served.ssh_port = int(ssh.group(1))
                if _READY in line and served.url:
                    ready.set()

        served._pump = threading.Thread(target=pump, daemon=True)
        served._pump.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                served.kill()
                raise AssertionError(f"gitstore serve did not start:\n{served.log}")
        return served

    @property
    def log(self) -> str:
        return "".join(self.lines)

    # ------------------------------------------------------------------ process
    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM; the exit code."""
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        if self._pump is not None:
            self._pump.join(10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)

    def cli(
        self, *args: str, stdin: str = "", timeout: float = 180.0
    ) -> subprocess.CompletedProcess[str]:
        """``gitstore <args>`` with the server's environment (same data dir, same backends)."""
        return subprocess.run(
            [sys.executable, "-m", "gitstore", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ HTTP
    def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.http.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )

    def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = self.post(query, variables, token)
        body: dict[str, Any] = response.json()
        return body

    def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """``data`` of a request that must not fail."""
        body = self.gql(query, variables, token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    # ------------------------------------------------------------------ git, read directly
    def git(self, repository: str, *args: str) -> str:
        git_dir = self.data_dir / "repos" / f"{repository}.git"
        done = subprocess.run(
            ["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def head(self, repository: str) -> str | None:
        try:
            return self.git(repository, "rev-parse", "--verify", "-q", "refs/heads/main").strip()
        except subprocess.CalledProcessError:
            return None

    def commit_count(self, repository: str) -> int:
        if self.head(repository) is None:
            return 0
        return int(self.git(repository, "rev-list", "--count", "refs/heads/main"))
