"""``gitstore serve`` as a real OS process, driven over HTTP like a user would.

``Served.start(data_dir, env=..., args=...)`` runs ``python -m gitstore serve`` with its
ports chosen by the OS (``--grpc-port 0 --api-port 0 ...``: no race for a free port), reads the
API's port from its log line ``API listening on http://127.0.0.1:<port>`` (and SSH's from
``SSH listening on``) and returns once the worker is consuming. ``Served.start_split`` does the
same for ``gitstore git-service`` + ``gitstore api`` + ``gitstore worker`` as three processes
(the git and hook gRPC ports picked free beforehand: each side must name the other's).
``stop()`` sends SIGTERM to every process and returns the first non-zero exit code.

Helpers: ``cli(...)`` runs another ``gitstore`` subcommand with the same environment (to create
users, run the demo); ``gql(...)`` posts one GraphQL request and returns the decoded body;
``git(repo, ...)`` / ``commit_count(repo)`` read the bare repository in the data dir with the
real ``git`` binary (the API never does; the tests check what was committed independently).
"""

from __future__ import annotations

import os
import re
import signal
import socket
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
_READY = re.compile(r"worker started|worker \S+ consuming")  # serve / gitstore worker
_READY_OF = {"api": _LISTENING, "git-service": re.compile(r"git-service started")}


def free_port() -> int:
    """A TCP port that was free a moment ago (for flags that cannot take 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """A running GitStore: one ``serve`` process, or the split deployment's three."""

    data_dir: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[str]]
    lines: list[str] = field(default_factory=list)
    url: str = ""
    ssh_port: int = 0
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))
    commands: dict[str, list[str]] = field(default_factory=dict)
    _pumps: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        timeout: float = 60.0,
    ) -> Served:
        """``gitstore serve``: every service in one process."""
        command = ["serve", "--data-dir", str(data_dir)]
        command += ["--grpc-port", "0", "--api-port", "0", "--ssh-port", "0", "--hook-port", "0"]
        return cls._launch(data_dir, env, {"serve": [*command, *args]}, timeout)

    @classmethod
    def start_split(
        cls, data_dir: Path, *, env: dict[str, str] | None = None, timeout: float = 60.0
    ) -> Served:
        """The deployment for more than one machine: ``gitstore git-service``, ``gitstore
        api`` and ``gitstore worker`` as three processes that meet only over gRPC and the
        backends in ``env`` (each flag as an operator would pass it)."""
        git_port, hook_port = free_port(), free_port()
        git_uri, data = f"127.0.0.1:{git_port}", str(data_dir)
        commands = {
            "git-service": [
                "git-service", "--data-dir", data, "--grpc-port", str(git_port),
                "--ssh-port", "0", "--hook-uri", f"127.0.0.1:{hook_port}",
            ],
            "api": [
                "api", "--data-dir", data, "--api-port", "0", "--git-grpc-uri", git_uri,
                "--hook-port", str(hook_port),
            ],
            "worker": ["worker", "--data-dir", data, "--git-grpc-uri", git_uri],
        }  # fmt: skip
        return cls._launch(data_dir, env, commands, timeout)

    @classmethod
    def _launch(
        cls,
        data_dir: Path,
        env: dict[str, str] | None,
        commands: dict[str, list[str]],
        timeout: float,
    ) -> Served:
        full_env = {**os.environ, "GITSTORE_GIT__FSYNC": "false", **(env or {})}
        served = cls(data_dir, full_env, {}, commands=commands)
        ready = [served._spawn(name) for name in commands]
        served._await(ready, timeout)
        return served

    def _spawn(self, name: str) -> threading.Event:
        """Start process ``name``; the event is set once it logged that it is ready."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitstore", *self.commands[name]],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs[name] = proc
        prefix = f"[{name}] " if len(self.commands) > 1 else ""
        marker = _READY_OF.get(name, _READY)
        ready = threading.Event()
        pump = threading.Thread(
            target=self._pump_lines, args=(proc, prefix, marker, ready), daemon=True
        )
        pump.start()
        self._pumps.append(pump)
        return ready

    def _await(self, ready: list[threading.Event], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not (all(e.is_set() for e in ready) and self.url and self.ssh_port):
            time.sleep(0.05)
            gone = [n for n, p in self.procs.items() if p.poll() is not None]
            if gone or time.monotonic() > deadline:
                self.kill()
                what = f"{', '.join(gone)} exited" if gone else "timed out"
                raise AssertionError(f"gitstore did not start ({what}):\n{self.log}")

    def restart(self, name: str, *, hard: bool = False, timeout: float = 60.0) -> int:
        """Stop process ``name`` (SIGTERM, or SIGKILL when ``hard``) and start it again with
        the same flags; its exit code. The API's new URL replaces the old one."""
        code = self.halt(name, hard=hard)
        if name in ("api", "serve"):
            self.url = ""
        self._await([self._spawn(name)], timeout)
        return code

    def halt(self, name: str, *, hard: bool = False, timeout: float = 60.0) -> int:
        """Stop process ``name`` only (SIGTERM, or SIGKILL when ``hard``); its exit code."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
            tail = "".join(self.lines[-60:])
            raise AssertionError(f"{name} did not stop within {timeout:g} s:\n{tail}") from None

    def _pump_lines(
        self,
        proc: subprocess.Popen[str],
        prefix: str,
        marker: re.Pattern[str],
        ready: threading.Event,
    ) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(prefix + line)
            found = _LISTENING.search(line)
            if found:
                self.url = found.group(1)
            ssh = _SSH.search(line)
            if ssh:
                self.ssh_port = int(ssh.group(1))
            if marker.search(line):
                ready.set()
        proc.stderr.close()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    # ------------------------------------------------------------------ process
    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM to every process; the first non-zero exit code, else 0."""
        self.http.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout) for proc in self.procs.values()]
        self._release()
        return next((code for code in codes if code), 0)

    def kill(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
        self._release()

    def _release(self) -> None:
        for pump in self._pumps:
            pump.join(10)

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
