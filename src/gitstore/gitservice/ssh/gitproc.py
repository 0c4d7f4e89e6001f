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
itself from the same building blocks (``transport.process.git_command`` with
``core.hooksPath=/dev/null``: no hook runs, repository hooks included; ``git_env``: the minimal
environment) plus ``GIT_PROTOCOL`` when the client sent a well-formed one (``version=2``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as git_pb
from gitstore.gitservice.ssh.command import GitService
from gitstore.gitservice.transport import process

CHUNK = 64 * 1024


class Reader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...


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
    ) -> process.Invocation: ...


def protocol_ok(value: str) -> bool:
    """Whether a client's ``GIT_PROTOCOL`` is ``key[=value]`` items joined by ``:``."""
    try:
        process.check_protocol(value)
    except InvalidArgument:
        return False
    return True


@contextlib.contextmanager
def open_git(
    service: GitService,
    repository: RepositoryId,
    repo_path: Path,
    context: git_pb.PushContext,
    git_protocol: str | None,
) -> Iterator[process.Invocation]:
    """A hook-less git process for one session (used when no ``GitTransport`` is given)."""
    protocol = git_protocol if git_protocol and protocol_ok(git_protocol) else ""
    argv = process.git_command(
        service.program, repo_path, stateless=False, hooks_dir=Path(os.devnull)
    )
    with process.Invocation(argv, process.git_env(protocol), repo_path) as invocation:
        yield invocation


async def run_git(
    invocation: process.Invocation, stdin: Reader, stdout: Writer, stderr: Writer
) -> int:
    """Run the invocation bridged to the streams; return its exit status."""
    proc = await process.spawn_async(invocation)
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
