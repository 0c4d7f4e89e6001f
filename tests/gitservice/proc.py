"""``gitstore`` subcommands as real OS processes, for kill -9 and multi-process tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"git service listening on (\S+):(\d+)")


class ServiceProcess:
    """``python -m gitstore <command> --data-dir D --grpc-port 0``; learns the port from its log."""

    def __init__(
        self, data_dir: Path, command: str = "git-service", env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.command = command
        self.env = {**os.environ, **(env or {})}
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self, timeout: float = 60.0) -> int:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gitstore",
                self.command,
                "--data-dir",
                str(self.data_dir),
                "--grpc-port",
                "0",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        found = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                match = _LISTENING.search(line)
                if match:
                    self.port = int(match.group(2))
                    found.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.command} did not start:\n{''.join(self.lines)}")
        return self.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _reap(self, timeout: float) -> int:
        assert self.proc is not None and self.proc.stderr is not None
        code = self.proc.wait(timeout)
        self._pump.join(10)
        self.proc.stderr.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self._reap(30)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self._reap(timeout)

    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.stderr is not None and not self.proc.stderr.closed:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reap(30)
