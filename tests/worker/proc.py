"""``gitstore worker`` as a real OS process, for kill -9 tests (and end-to-end tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.processes import ROOT, LoggedProcess

__all__ = ["READY", "ROOT", "WorkerProcess"]

READY = " consuming "


class WorkerProcess(LoggedProcess):
    """``python -m gitstore worker ...``; ``start()`` returns once it logged that it consumes."""

    terminate_timeout = 60.0

    def __init__(
        self,
        *,
        data_dir: Path,
        git_uri: str,
        kv_url: str,
        queue_url: str,
        metrics_port: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        args = [
            sys.executable,
            "-m",
            "gitstore",
            "worker",
            "--data-dir",
            str(data_dir),
            "--git-grpc-uri",
            git_uri,
            "--kv-url",
            kv_url,
            "--queue-url",
            queue_url,
            "--metrics-port",
            str(metrics_port),
        ]
        super().__init__(args, "gitstore worker", env)

    def _ready(self, line: str) -> bool:
        return READY in line

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        self.lines = []
        self._spawn(timeout)
        return self
