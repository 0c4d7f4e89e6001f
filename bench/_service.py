"""Run a real ``gitstore git-service`` as a subprocess for a benchmark.

The service is started the way an operator starts it (``python -m gitstore git-service``
with ``--git-data-dir``, ``--grpc-port`` and ``--queue-url``; its data dir and log in the
benchmark's scratch directory), on a free port and without SSH (``--no-ssh``), and is
ready once the gRPC channel connects and the benchmark repositories resolve. Its output goes
to ``service.log`` beside it; the tail is shown when it fails to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import grpc
from _util import free_port

from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc


class GitServiceProcess:
    def __init__(
        self, scratch: Path, repos_dir: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.scratch = scratch
        self.repos_dir = repos_dir
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = scratch / "service.log"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None

    def command(self) -> list[str]:
        queue = f"sqlite:///{(self.scratch / 'queue.sqlite3').resolve()}"
        return [
            sys.executable,
            "-m",
            "gitstore",
            "git-service",
            "--git-data-dir",
            str(self.repos_dir),
            "--grpc-port",
            str(self.port),
            "--queue-url",
            queue,
            "--no-ssh",  # not measured; its default port 2222 may belong to a running serve
        ]

    def start(self, repository_ids: list[str], timeout: float = 60.0) -> grpc.Channel:
        env = {
            **os.environ,
            "GITSTORE_DATA_DIR": str(self.scratch / "data"),
            "GITSTORE_GIT__FSYNC": "true",
            "GITSTORE_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(), env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.channel = grpc.insecure_channel(self.address)
        stub = pb_grpc.GitServiceStub(self.channel)
        deadline = time.monotonic() + timeout
        pending = list(repository_ids)
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gitstore git-service exited with code {self.proc.returncode}:\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gitstore git-service not ready after {timeout:.0f}s:\n" + self.log_tail()
                )
            try:
                stub.ResolveRevision(
                    pb.ResolveRevisionRequest(repository_id=pending[0], revision="main"),
                    timeout=2,
                )
                pending.pop(0)
            except grpc.RpcError as exc:
                if exc.code() not in (grpc.StatusCode.UNAVAILABLE,):
                    raise RuntimeError(
                        f"git service cannot resolve main of {pending[0]}: {exc.code().name}: "
                        f"{exc.details()}"
                    ) from exc
                time.sleep(0.1)
        return self.channel

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> GitServiceProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
