"""Support for the SSH tests: a real HookService (gRPC) that knows keys and permissions,
client keys made with the real ``ssh-keygen``, and the real ``ssh``/``git`` command lines."""

from __future__ import annotations

import concurrent.futures
import os
import pty
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from gitstore.hook.v1 import hook_service_pb2 as hook_pb
from gitstore.hook.v1 import hook_service_pb2_grpc as hook_grpc
from tests.servers import missing as absent

READ = hook_pb.GIT_ACCESS_READ
WRITE = hook_pb.GIT_ACCESS_WRITE


def require_tools() -> None:
    missing = [
        tool for tool in ("ssh", "ssh-keygen", "ssh-keyscan", "git") if not shutil.which(tool)
    ]
    if missing:
        absent(f"the SSH tests need {', '.join(missing)} on PATH")


@dataclass(frozen=True)
class ClientKey:
    path: Path
    public_line: str  # "<type> <base64>"
    fingerprint: str  # "SHA256:..."


def make_key(directory: Path, name: str) -> ClientKey:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(path)],
        check=True,
    )
    words = (directory / f"{name}.pub").read_text().split()
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return ClientKey(path, f"{words[0]} {words[1]}", listed[1])


@dataclass
class FakeHooks(hook_grpc.HookServiceServicer):
    """keys: public line -> (fingerprint, user); grants: (user, repo) -> highest access."""

    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    grants: dict[tuple[str, str], int] = field(default_factory=dict)
    repositories: set[str] = field(default_factory=set)
    refused_refs: set[str] = field(default_factory=set)  # PreReceive refuses these refs
    disabled: set[str] = field(default_factory=set)  # users whose keys are PERMISSION_DENIED
    calls: list[tuple[str, object]] = field(default_factory=list)
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def AuthenticateSshKey(self, request, context):  # type: ignore[no-untyped-def]
        with self._mutex:
            self.calls.append(("AuthenticateSshKey", request))
        known = self.keys.get(request.public_key)
        if known is None or known[0] != request.fingerprint:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown SSH key")
            raise AssertionError("abort raises")
        if known[1] in self.disabled:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"user {known[1]!r} is disabled")
            raise AssertionError("abort raises")
        return hook_pb.AuthenticateSshKeyResponse(username=known[1], key_id="k-" + known[1])

    def AuthorizeGit(self, request, context):  # type: ignore[no-untyped-def]
        with self._mutex:
            self.calls.append(("AuthorizeGit", request))
        if request.repository_id not in self.repositories:
            context.abort(
                grpc.StatusCode.NOT_FOUND, f"repository {request.repository_id} not found"
            )
        granted = self.grants.get((request.username, request.repository_id), 0)
        if granted == 0:
            context.abort(
                grpc.StatusCode.NOT_FOUND, f"repository {request.repository_id} not found"
            )
        if request.access > granted:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "write access required")
        return hook_pb.AuthorizeGitResponse()

    def PreReceive(self, request, context):  # type: ignore[no-untyped-def]
        with self._mutex:
            self.calls.append(("PreReceive", request))
        refused = [r.update.ref for r in request.refs if r.update.ref in self.refused_refs]
        if refused:
            return hook_pb.PreReceiveResponse(
                allowed=False,
                violations=[
                    hook_pb.Violation(ref=ref, rule="test", message="no") for ref in refused
                ],
                messages=["POLICY CHECK FAILED", *(f"{ref} [test] refused" for ref in refused)],
            )
        return hook_pb.PreReceiveResponse(allowed=True, messages=["checked by the test"])

    def PostReceive(self, request, context):  # type: ignore[no-untyped-def]
        with self._mutex:
            self.calls.append(("PostReceive", request))
        return hook_pb.PostReceiveResponse()

    def called(self, method: str) -> list[Any]:
        with self._mutex:
            return [request for name, request in self.calls if name == method]


def serve_hooks(servicer: FakeHooks) -> tuple[grpc.Server, int]:
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
    hook_grpc.add_HookServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def ssh_argv(key: Path, log_level: str = "ERROR") -> list[str]:
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"LogLevel={log_level}",
        "-o",
        "ConnectTimeout=20",
    ]


def run_ssh(
    port: int,
    key: Path,
    *args: str,
    user: str = "git",
    options: tuple[str, ...] = (),
    terminal: bool = False,
    log_level: str = "ERROR",
) -> subprocess.CompletedProcess[str]:
    """Run the real ``ssh``; ``terminal=True`` gives it a pseudo-terminal as stdin (so it
    asks the server for a pty the way an interactive user's client does)."""
    argv = [*ssh_argv(key, log_level), *options, "-p", str(port), f"{user}@127.0.0.1", *args]
    if not terminal:
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    leader, follower = pty.openpty()
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=follower)
    finally:
        os.close(leader)
        os.close(follower)


def git_env(home: Path, key: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_SSH_COMMAND=" ".join(ssh_argv(key)),
        GIT_AUTHOR_NAME="Tess Ter",
        GIT_AUTHOR_EMAIL="tess@example.com",
        GIT_COMMITTER_NAME="Tess Ter",
        GIT_COMMITTER_EMAIL="tess@example.com",
    )
    return env


def run_git(
    env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done
