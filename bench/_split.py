"""Run the split deployment for a benchmark: ``gitstore git-service``, ``api`` and ``worker``.

``SplitProcesses`` starts the three subcommands as separate processes, each the way an
operator starts it (``python -m gitstore <subcommand>`` with its flags), on one shared
``--data-dir`` whose embedded backends (SQLite metadata, KV and queue files, WAL; several
processes may share them: docs/kv.md, docs/queue.md) are what the processes meet on, beside
gRPC (the API and the worker dial the git service; the git service dials the API's hook
service). It has ``ServeProcess``'s interface where a benchmark needs it (``api_port``,
``env``, ``start``, ``stop``, ``log_tail``) plus ``pids``: each process's id by name, so a
benchmark can read the API's CPU apart from the others'. Logs go to ``<name>.log`` in the
scratch directory. Ready once the API's ``/healthz`` answers, the git service's gRPC port
connects and the worker has logged that it consumes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
from _util import free_port, healthy

NAMES = ("git-service", "api", "worker")


class SplitProcesses:
    def __init__(self, scratch: Path, env: dict[str, str]) -> None:
        self.scratch = scratch
        self.data_dir = scratch / "data"
        self.api_port = free_port()
        self.grpc_port = free_port()
        self.hook_port = free_port()
        self.env = {
            **os.environ,
            "GITSTORE_DATA_DIR": str(self.data_dir),
            "GITSTORE_LOG_LEVEL": "WARNING",
            **env,
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def commands(self) -> dict[str, list[str]]:
        data, git_uri = str(self.data_dir), f"127.0.0.1:{self.grpc_port}"
        return {
            "git-service": [
                "git-service", "--data-dir", data, "--grpc-port", str(self.grpc_port),
                "--ssh-port", "0", "--hook-uri", f"127.0.0.1:{self.hook_port}",
            ],
            "api": [
                "api", "--data-dir", data, "--api-port", str(self.api_port),
                "--git-grpc-uri", git_uri, "--hook-port", str(self.hook_port),
            ],
            "worker": ["worker", "--data-dir", data, "--git-grpc-uri", git_uri],
        }  # fmt: skip

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def log_path(self, name: str) -> Path:
        return self.scratch / f"{name}.log"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name, args in self.commands().items():
            with self.log_path(name).open("ab") as log:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "gitstore", *args],
                    # the worker says at INFO when it consumes (readiness)
                    env={
                        **self.env,
                        **({"GITSTORE_LOG_LEVEL": "INFO"} if name == "worker" else {}),
                    },
                    stdout=log,
                    stderr=log,
                )
        deadline = time.monotonic() + timeout
        while not (healthy(self.api_port) and self._worker_consuming()):
            gone = [name for name, proc in self.procs.items() if proc.poll() is not None]
            if gone:
                raise RuntimeError(f"{', '.join(gone)} exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:.0f}s\n{self.log_tail()}")
            time.sleep(0.1)
        with grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=max(1.0, deadline - time.monotonic()))

    def _worker_consuming(self) -> bool:
        try:
            return "consuming" in self.log_path("worker").read_text(errors="replace")
        except OSError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        tails = []
        for name in NAMES:
            try:
                text = self.log_path(name).read_text(errors="replace")
            except OSError:
                text = "(no log)"
            tails.append(f"--- {name}\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(tails)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = {}
