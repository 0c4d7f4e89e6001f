"""A ``gitstore`` subcommand as a real OS process whose stderr log a test reads.

:class:`LoggedProcess` runs ``args`` (normally ``python -m gitstore ...``) from the repository
root with stdout discarded and stderr pumped, line by line, into ``lines`` by a daemon thread.
``start`` returns once a subclass's ``_ready(line)`` said yes for a line, and raises
``AssertionError`` with the log so far if the process exits first or ``timeout`` passes.
``kill`` (SIGKILL: no cleanup of any kind runs), ``terminate`` (SIGTERM, returns the exit code)
and ``close`` (kill if still running, then reap) finish it. Used by the git-service and
worker process tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class LoggedProcess:
    """One child process; ``what`` names it in failure messages."""

    terminate_timeout = 30.0

    def __init__(self, args: list[str], what: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.what = what
        self.env = {**os.environ, **(env or {})}
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def _ready(self, line: str) -> bool:
        """Whether ``line`` of the log says the process is ready (may record what it says)."""
        raise NotImplementedError

    def _spawn(self, timeout: float) -> None:
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
                if self._ready(line):
                    ready.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.what} did not start:\n{self.log}")

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

    def terminate(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self._reap(self.terminate_timeout if timeout is None else timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.stderr is not None and not self.proc.stderr.closed:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reap(30)
