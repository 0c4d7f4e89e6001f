"""``gitstore`` subcommands as real OS processes, for kill -9 and multi-process tests."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.support.processes import ROOT, LoggedProcess

__all__ = ["ROOT", "ServiceProcess"]

_LISTENING = re.compile(r"git service listening on (\S+):(\d+)")


class ServiceProcess(LoggedProcess):
    """``python -m gitstore <command> --data-dir D --grpc-port 0`` (every other listener on port 0
    too: tests run side by side); learns the gRPC port from its log."""

    def __init__(
        self, data_dir: Path, command: str = "git-service", env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.command = command
        self.port = 0
        args = [
            sys.executable,
            "-m",
            "gitstore",
            command,
            "--data-dir",
            str(data_dir),
            "--grpc-port",
            "0",
            "--ssh-port",
            "0",
            *(["--api-port", "0", "--hook-port", "0"] if command in ("serve", "api") else []),
        ]
        super().__init__(args, command, env)

    def _ready(self, line: str) -> bool:
        match = _LISTENING.search(line)
        if match:
            self.port = int(match.group(2))
        return match is not None

    def start(self, timeout: float = 60.0) -> int:
        self._spawn(timeout)
        return self.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
