"""A listener whose port is taken ends the command with one error line naming the port.

Every listener of ``gitstore serve`` (HTTP, SSH, the gRPC git service, the gRPC hook service),
and those of ``gitstore api`` and ``gitstore git-service``, is started by the real CLI in a
child process while this test holds its port with a listening socket. The command must exit
with status 1, print exactly ``gitstore: error: cannot listen on 127.0.0.1:PORT (...)`` on
stderr (logging at WARNING, so a traceback, an error log or gRPC's own stderr line would
show) and leave nothing running in its process group. The other listeners get port 0.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# command -> listener -> its port flag; every other flag of the command gets port 0.
LISTENERS = {
    "serve": {
        "HTTP": "--api-port",
        "SSH": "--ssh-port",
        "gRPC git service": "--grpc-port",
        "gRPC hook service": "--hook-port",
    },
    "api": {"HTTP": "--api-port", "gRPC hook service": "--hook-port"},
    "git-service": {"SSH": "--ssh-port", "gRPC git service": "--grpc-port"},
}
CASES = [(command, what) for command, listeners in LISTENERS.items() for what in listeners]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO \S+: ")


@pytest.fixture
def taken() -> Iterator[int]:
    """A port held by a listening socket of this process for the test's duration."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def run_cli(
    tmp_path: Path, command: str, what: str, port: int, *, log_level: str
) -> subprocess.CompletedProcess[str]:
    args = [command, "--data-dir", str(tmp_path / "data")]
    for name, flag in LISTENERS[command].items():
        args += [flag, str(port if name == what else 0)]
    if command == "api":
        # Never dialled while starting; a port nothing listens on (the test holds it).
        args += ["--git-grpc-uri", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitstore", "--log-level", log_level, *args],
        cwd=ROOT,
        env={**os.environ, "GITSTORE_GIT__FSYNC": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        raise AssertionError(f"gitstore {command} did not exit with {what}'s port taken")
    # Nothing of the command's process group is left (threads keep a process alive).
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize(("command", "what"), CASES, ids=[f"{c}-{w}" for c, w in CASES])
def test_a_taken_port_is_one_error_line(
    tmp_path: Path, taken: int, command: str, what: str
) -> None:
    result = run_cli(tmp_path, command, what, taken, log_level="WARNING")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    expected = re.compile(
        rf"gitstore: error: cannot listen on 127\.0\.0\.1:{taken} \({re.escape(what)}: .+\)"
    )
    assert expected.fullmatch(lines[0]), lines[0]


def test_at_the_default_log_level_only_info_lines_precede_the_error(
    tmp_path: Path, taken: int
) -> None:
    # The hook service binds last, after the git service and the API's stores started:
    # they are stopped again without an error log.
    result = run_cli(tmp_path, "serve", "gRPC hook service", taken, log_level="INFO")
    assert result.returncode == 1, result.stderr
    *logged, last = result.stderr.splitlines()
    assert last.startswith(f"gitstore: error: cannot listen on 127.0.0.1:{taken} ")
    assert [line for line in logged if not LOG_LINE.match(line)] == []
    assert any("git-service stopped" in line for line in logged)
