"""Running ``git upload-pack`` / ``git receive-pack`` for an SSH session.

Over SSH git speaks its native, stateful protocol: one process per session, the client's
bytes on its stdin, its stdout (pkt-lines, the pack, sideband progress) and its stderr
(``remote:``-less diagnostics) back to the channel until it exits; the exit status is the
session's. Not ``--stateless-rpc``: that is for Smart HTTP, where each request is separate.

Data is pumped in 64 KiB chunks with back-pressure both ways (``drain`` on the SSH channel,
whose window is the client's; ``drain`` on git's stdin pipe). The outputs are pumped to
their end *before* the exit status is sent, so the client sees everything git wrote. When
the client's input ends, git's stdin is closed; when git is done, whatever the client still
sends is ignored. If the client goes away mid-session the process is killed.

Which process, with which environment: with the git service's ``GitTransport``
(gitservice/transport, passed to ``start_ssh_server`` as ``transport``) the server asks it:
``transport.open(repo_id, "git-receive-pack", context=..., git_protocol=...)`` returns an
``Invocation`` (``argv``/``env``/``cwd``; ``close()`` settles the push) whose receive-pack
runs the service's pre-receive/post-receive hooks with the push context. Without one (a
bare store, e.g. tests of the SSH layer alone) ``open_git`` builds an isolated invocation
itself: ``git -c core.hooksPath=/dev/null <service> -- <repo>`` (no hook runs, repository
hooks included) with a minimal environment (``PATH``, ``LANG=C``, no system/global config,
``HOME=/dev/null``, no inherited ``GIT_*``) plus ``GIT_PROTOCOL`` when the client sent a
well-formed one (``version=2``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as git_pb
from gitstore.gitservice.ssh.command import GitService

CHUNK = 64 * 1024
_PROTOCOL = re.compile(r"[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?(:[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?)*")
_KEPT = ("PATH", "TZ")


class Reader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


class Invocation(Protocol):
    """What to run (as gitservice.transport.process.Invocation)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path | None


class Transport(Protocol):
    """The part of gitservice.transport.push.GitTransport the SSH server uses."""

    def open(
        self,
        repository_id: RepositoryId,
        service: str,
        *,
        context: git_pb.PushContext | None = None,
        git_protocol: str = "",
        stateless: bool = False,
        advertise: bool = False,
    ) -> ClosingInvocation: ...


class ClosingInvocation(Invocation, Protocol):
    def close(self) -> None: ...


@dataclass
class LocalInvocation:
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None


def protocol_ok(value: str) -> bool:
    """Whether a client's ``GIT_PROTOCOL`` is ``key[=value]`` items joined by ``:``."""
    return len(value) <= 256 and _PROTOCOL.fullmatch(value) is not None


@contextlib.contextmanager
def open_git(
    service: GitService,
    repository: RepositoryId,
    repo_path: Path,
    context: git_pb.PushContext,
    git_protocol: str | None,
) -> Iterator[Invocation]:
    """A hook-less git process for one session (used when no ``GitTransport`` is given)."""
    env = {name: os.environ[name] for name in _KEPT if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        LANG="C",
        LC_ALL="C",
        HOME=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
    )
    if git_protocol and protocol_ok(git_protocol):
        env["GIT_PROTOCOL"] = git_protocol
    argv = ["git", "-c", f"core.hooksPath={os.devnull}", service.program, "--", str(repo_path)]
    yield LocalInvocation(argv, env, repo_path)


async def run_git(invocation: Invocation, stdin: Reader, stdout: Writer, stderr: Writer) -> int:
    """Run the invocation bridged to the streams; return its exit status."""
    proc = await asyncio.create_subprocess_exec(
        *invocation.argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=invocation.env,
        cwd=invocation.cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    feed = asyncio.create_task(_feed(stdin, proc.stdin))
    try:
        await asyncio.gather(_pump(proc.stdout, stdout), _pump(proc.stderr, stderr))
        return await proc.wait()
    finally:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feed
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def _pump(source: asyncio.StreamReader, sink: Writer) -> None:
    while chunk := await source.read(CHUNK):
        sink.write(chunk)
        await sink.drain()


async def _feed(source: Reader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
        sink.close()
    except (BrokenPipeError, ConnectionResetError):
        return  # git is done reading (it exited); the rest of the input is irrelevant
