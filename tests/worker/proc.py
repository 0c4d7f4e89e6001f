"""``gitstore worker`` as a real OS process, for kill -9 tests (and end-to-end tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = " consuming "


class WorkerProcess:
    """``python -m gitstore worker ...``; ``start()`` returns once it logged that it consumes."""

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
        self.args = [
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
        self.env = {**os.environ, **(env or {})}
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        self.lines = []
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                if READY in line:
                    ready.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gitstore worker did not start:\n{self.log}")
        return self

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def _reap(self, timeout: float) -> int:
        assert self.proc is not None and self.proc.stderr is not None
        code = self.proc.wait(timeout)
        self._pump.join(10)
        self.proc.stderr.close()
        return code

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self._reap(30)

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self._reap(timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.stderr is not None and not self.proc.stderr.closed:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reap(30)
