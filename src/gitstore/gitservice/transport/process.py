"""Running ``git upload-pack`` / ``git receive-pack``: command line, environment, pumping.

The same code serves both transports:

* Smart HTTP (through the API's relay and the ``AdvertiseRefs`` / ``UploadPack`` /
  ``ReceivePack`` RPCs): ``--stateless-rpc``, one process per HTTP request, the request body
  on stdin, the response on stdout. ``pump(argv, env, chunks)`` does that with a feeder
  thread (stdin) while the caller iterates stdout in chunks of at most ``CHUNK`` bytes.
* SSH (gitservice/ssh/): one long-lived, bidirectional process per SSH channel
  (``stateless=False``); ``spawn_async(invocation)`` starts it with asyncio pipes and the
  SSH server connects them to the channel.

The SSH helper does not build argv/env itself; it asks ``GitTransport.open`` (see
``transport.push``) for an ``Invocation`` (argv, env, and the push bookkeeping a
receive-pack needs), then::

    with transport.open(repo_id, "git-receive-pack", context=ctx, git_protocol=proto) as inv:
        proc = await spawn_async(inv)
        ...  # connect proc.stdin/stdout/stderr to the channel, await proc.wait()
    # leaving the block settles the push (events of refs that landed, quarantine gone)

``git_command(service, repo_path, stateless=..., advertise=..., hooks_dir=...)`` and
``git_env(...)`` are the building blocks. Isolation: the child gets a minimal environment
(``PATH``, ``LANG=C``, no ``HOME`` config: ``GIT_CONFIG_NOSYSTEM=1``,
``GIT_CONFIG_GLOBAL=/dev/null``, no inherited ``GIT_*``) so nothing from the service's
environment or a user's config reaches git; the only ``-c`` options are ours.
receive-pack checks every pushed object with git's fsck (``FSCK_OPTIONS``).
``core.hooksPath`` points at the service's own hook directory for receive-pack (repository
hooks never run) and at an empty directory for upload-pack. ``GIT_PROTOCOL`` carries the
client's ``Git-Protocol`` header (``version=2``), checked to be ``key=value`` items.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from gitstore.domain.errors import InvalidArgument

log = logging.getLogger(__name__)

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SERVICES = (UPLOAD_PACK, RECEIVE_PACK)
CHUNK = 64 * 1024
MAX_PROTOCOL_CHARS = 256
_PROTOCOL = re.compile(r"[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?(:[A-Za-z0-9._-]+(=[A-Za-z0-9._-]*)?)*")
_KEPT_ENV = ("PATH", "TZ")
# git's own object checks on every pushed object (as GitHub runs them): index-pack --strict,
# so fsck warnings are errors too; the severities that matter most are spelled out so that a
# later git default cannot relax them. A failure refuses the pack before any hook runs, with
# ``remote: error: object <sha>: <msgId>: <text>`` on the client (sideband), over HTTP and SSH.
FSCK_ERRORS = (
    "hasDot",
    "hasDotdot",
    "hasDotgit",
    "fullPathname",
    "emptyName",
    "duplicateEntries",
    "treeNotSorted",
    "zeroPaddedFilemode",
    "badFilemode",
    "nulInHeader",
    "gitmodulesName",
    "gitmodulesUrl",
    "gitmodulesPath",
    "gitmodulesSymlink",
    "gitmodulesParse",
    "gitmodulesUpdate",
    "gitattributesSymlink",
    "gitignoreSymlink",
    "mailmapSymlink",
)
FSCK_OPTIONS = (
    "receive.fsckObjects=true",
    "transfer.fsckObjects=true",
    *(f"receive.fsck.{name}=error" for name in FSCK_ERRORS),
)


def check_service(service: str) -> str:
    """``git-upload-pack`` or ``git-receive-pack`` (also accepted without ``git-``)."""
    name = service if service.startswith("git-") else f"git-{service}"
    if name not in SERVICES:
        raise InvalidArgument(
            f"service {service!r} is not git-upload-pack or git-receive-pack", field="service"
        )
    return name


def check_protocol(value: str) -> str:
    """The ``Git-Protocol`` header: empty, or ``key[=value]`` items joined by ``:``."""
    if value and (len(value) > MAX_PROTOCOL_CHARS or not _PROTOCOL.fullmatch(value)):
        raise InvalidArgument(f"git_protocol {value!r} is not valid", field="git_protocol")
    return value


def git_command(
    service: str,
    repo_path: Path,
    *,
    stateless: bool,
    advertise: bool = False,
    hooks_dir: Path,
) -> list[str]:
    """argv of ``git upload-pack|receive-pack`` for ``repo_path`` with our ``-c`` only."""
    name = check_service(service)
    argv = ["git", "-c", f"core.hooksPath={hooks_dir}"]
    if name == RECEIVE_PACK:
        argv += ["-c", "receive.advertisePushOptions=true"]
        for option in FSCK_OPTIONS:
            argv += ["-c", option]
    argv.append(name.removeprefix("git-"))
    if stateless:
        argv.append("--stateless-rpc")
    if advertise:
        argv.append("--advertise-refs")
    argv += ["--", str(repo_path)]
    return argv


def git_env(protocol: str = "", extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for git: no inherited ``GIT_*``, no user or system config."""
    env = {key: os.environ[key] for key in _KEPT_ENV if key in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        LANG="C",
        LC_ALL="C",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        HOME=os.devnull,
    )
    if protocol:
        env["GIT_PROTOCOL"] = check_protocol(protocol)
    if extra:
        env.update(extra)
    return env


def _feed(proc: subprocess.Popen[bytes], chunks: Iterable[bytes]) -> None:
    stdin = proc.stdin
    assert stdin is not None
    try:
        for chunk in chunks:
            if chunk:
                stdin.write(chunk)
    except BrokenPipeError:
        pass  # git stopped reading (it answers with an error on stdout)
    except Exception:  # noqa: BLE001 - the request stream broke: stop git
        log.info("request stream ended early; stopping %s", proc.args)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            stdin.close()


def _drain(stream: object, sink: list[bytes]) -> None:
    assert hasattr(stream, "read")
    while data := stream.read(CHUNK):
        sink.append(data)


def pump(
    argv: list[str], env: Mapping[str, str], chunks: Iterable[bytes], *, cwd: Path | None = None
) -> Iterator[bytes]:
    """Run ``argv`` with ``chunks`` on stdin; yield stdout in pieces of at most ``CHUNK``.

    Closing the generator early (client went away) kills the process. A non-zero exit is
    logged with git's stderr; the output already sent is all the client gets (git reports
    its own errors in-band).
    """
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
    )
    errors: list[bytes] = []
    feeder = threading.Thread(target=_feed, args=(proc, chunks), daemon=True, name="git-stdin")
    drainer = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
    feeder.start()
    drainer.start()
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    complete = False
    try:
        while data := os.read(fd, CHUNK):
            yield data
        complete = True
    finally:
        if complete and proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)  # stdout is closed: git is exiting
        if proc.poll() is None:  # the caller stopped reading (client gone), or git hangs
            proc.kill()
        code = proc.wait()
        feeder.join(timeout=5)
        drainer.join(timeout=5)
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
        if code != 0:
            log.info("%s exited with %s: %s", argv[-1], code, b"".join(errors)[-2000:])


async def spawn_async(invocation: Invocation) -> asyncio.subprocess.Process:
    """Start an invocation with asyncio pipes on stdin, stdout and stderr (for SSH)."""
    return await asyncio.create_subprocess_exec(
        *invocation.argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(invocation.env),
        cwd=invocation.cwd,
    )


class Invocation:
    """One git process to run: ``argv``, ``env``, ``cwd``; ``close()`` settles afterwards.

    For receive-pack ``close`` finishes the push (events of refs that landed become
    publishable, the rest are dropped; the push's hook token stops working). Idempotent;
    also a context manager.
    """

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str],
        cwd: Path | None = None,
        on_close: list[Callable[[], None]] | None = None,
    ) -> None:
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self._on_close = list(on_close or [])
        self._closed = False

    def add_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for callback in self._on_close:
            try:
                callback()
            except Exception:
                log.exception("settling %s failed", self.argv[-1])

    def __enter__(self) -> Invocation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
