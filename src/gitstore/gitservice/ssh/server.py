"""The git service's SSH listener (asyncssh): ``git clone ssh://git@host:2222/<ns>/<repo>.git``.

Identity: every client logs in as ``git``; *who* it is comes from its public key, which the
API maps to a user (``HookService.AuthenticateSshKey``). Only public-key authentication is
offered (no passwords, no keyboard-interactive, no host-based); another login name is
refused without asking the API. Each offered key is looked up once per connection (the key
query and the signed attempt share the answer); the user of the key whose signature was
accepted is the connection's user. Limits: authentication must finish within
``LOGIN_TIMEOUT`` (asyncssh's ``login_timeout``), and after ``MAX_AUTH_FAILURES`` refused keys
the connection is cut (asyncssh has no MaxAuthTries of its own, so ``validate_public_key``
counts). Across connections, refused keys count against the client's address
(``domain.ratelimit``, ``GITSTORE_AUTH__SSH_FAILURES`` within the address window, then
back-off): while the address is locked no key is looked up and the client is told why in an
auth banner; a successful login takes back the refusals of its own connection (an agent that
offers a few other keys first is normal). A key of a disabled user is refused with a banner
saying so, and does not count. At most ``MAX_SESSIONS_PER_CONNECTION`` sessions run at once on
one connection —
another is answered on stderr with exit status 128 (asyncssh opens the channel before the
process factory sees it, so the refusal comes after the open, not as an open failure).

Sessions run exactly one of git's pack services (``command.parse_git_command``); the
request is authorised by the API (``AuthorizeGit``: READ for upload-pack, WRITE for
receive-pack, transport ``ssh``), the repository must exist on disk, and then
``gitproc.run_git`` runs git bridged to the channel. Everything else is refused with a line
on stderr and exit status 128: a shell (with or without a pty; pty requests themselves are
declined), subsystems (sftp included), other commands. Port forwarding (local, remote,
stdio ``-W``, unix sockets), agent and X11 forwarding are declined at the protocol level
with a "not allowed" reason.

Threads: the server runs on its own event loop in a daemon thread ("gitstore-ssh"), like
the outbox relay, so the synchronous git service and ``gitstore serve``'s loop need not
know it is asynchronous. ``start_ssh_server`` returns once it listens (or raises
``Unavailable`` when the port is taken); ``SshHandle.stop(grace)`` stops accepting, lets
running sessions finish for ``grace`` seconds, then closes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncssh

from gitstore import listening
from gitstore.config import Settings
from gitstore.domain import errors
from gitstore.domain.ratelimit import CredentialGuard, FailureLimiter, Policy
from gitstore.git.v1 import git_service_pb2 as git_pb
from gitstore.gitservice.ssh import gitproc
from gitstore.gitservice.ssh.command import (
    CommandRefused,
    GitCommand,
    GitService,
    parse_git_command,
)
from gitstore.gitservice.ssh.hookclient import HookClient
from gitstore.gitservice.ssh.hostkey import load_or_create_host_key
from gitstore.gitservice.storage import RepositoryStore

log = logging.getLogger(__name__)

LOGIN = "git"
REFUSED = 128
LOGIN_TIMEOUT = 30.0
# Refused keys (unknown, or offered for another login name) before the connection is cut: as
# OpenSSH's MaxAuthTries default. Each refused key may have cost an API lookup.
MAX_AUTH_FAILURES = 6
UNAVAILABLE_BANNER = (
    "gitstore: your key could not be checked: the authentication service is unavailable."
    " Try again shortly.\r\n"
)
DISABLED_BANNER = "gitstore: the account this key belongs to is disabled.\r\n"
# Sessions (exec channels) running at once on one connection; git uses one, multiplexing
# clients (ControlMaster) a few.
MAX_SESSIONS_PER_CONNECTION = 4
# A client that stops answering keepalives for ~2 minutes is dropped (and its git killed).
KEEPALIVE_INTERVAL = 30.0
KEEPALIVE_COUNT_MAX = 4
T = TypeVar("T")


def public_key_line(key: asyncssh.SSHKey) -> str:
    """``"<type> <base64>"``: the OpenSSH public key line without its comment."""
    words = key.export_public_key("openssh").decode("ascii").split()
    return f"{words[0]} {words[1]}"


@dataclass
class _Shared:
    settings: Settings
    store: RepositoryStore
    hooks: HookClient
    transport: gitproc.Transport | None = None
    guard: CredentialGuard | None = None
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)
    sessions: int = 0


class _Connection(asyncssh.SSHServer):
    """One client connection: authentication and the forwarding refusals."""

    def __init__(self, shared: _Shared) -> None:
        self.shared = shared
        self.conn: asyncssh.SSHServerConnection | None = None
        self.user = ""
        self.peer = ""
        self._known: dict[str, str | None] = {}
        self._candidate = ""
        self._failures = 0
        self._counted = 0  # refusals counted against the address by this connection
        self._told = False
        self.sessions = 0

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.shared.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.shared.connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        if self._failures >= MAX_AUTH_FAILURES:
            self._too_many_failures()
            return False
        guard = self.shared.guard
        blocked = guard.blocked(self.peer) if guard is not None else None
        if blocked is not None:
            log.info("ssh key from %s not checked: address locked", self.peer)
            self._banner(f"gitstore: {blocked.message}.\r\n")
            self._failures += 1
            return False
        accepted = await self._check_key(username, key)
        if accepted is None:  # refused for a reason that is no guess
            self._failures += 1
            return False
        if not accepted:
            self._failures += 1
            if guard is not None:
                self._counted += 1
                guard.failed(self.peer)
        return accepted

    def _too_many_failures(self) -> None:
        log.info("ssh login from %s cut off after %d refused keys", self.peer, self._failures)
        if self.conn is not None:
            self.conn.disconnect(
                asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
                "gitstore: too many authentication failures",
            )

    async def _check_key(self, username: str, key: asyncssh.SSHKey) -> bool | None:
        """True: the key's user logs in; False: refused; None: refused, not a guess (the
        API is down, the user is disabled)."""
        if username != LOGIN:
            log.info(
                "ssh login as %r from %s refused: the login must be %r",
                username[:64],
                self.peer,
                LOGIN,
            )
            return False
        fingerprint = key.get_fingerprint("sha256")
        if fingerprint not in self._known:
            try:
                user: str | None = await self.shared.hooks.authenticate_key(
                    public_key_line(key), fingerprint
                )
            except errors.NotFound:
                user = None
            except errors.PermissionDenied as exc:
                log.info("ssh key %s from %s refused: %s", fingerprint, self.peer, exc.message)
                self._banner(DISABLED_BANNER)
                return None  # not remembered: the user may be enabled for the next attempt
            except errors.GitStoreError as exc:
                log.warning("ssh key %s from %s not checked: %s", fingerprint, self.peer, exc)
                self._banner(UNAVAILABLE_BANNER)
                return None  # not remembered: the API may be back for the next attempt
            self._known[fingerprint] = user
        user = self._known[fingerprint]
        self._candidate = user or ""
        if user is None:
            log.info("ssh key %s from %s is not registered", fingerprint, self.peer)
        return user is not None

    def _banner(self, text: str) -> None:
        """Tell the client why its key was refused (an SSH auth banner: OpenSSH prints it
        at its default log level) — once per connection; a refusal alone would read as
        "your key is wrong"."""
        if self.conn is not None and not self._told:
            self._told = True
            self.conn.send_auth_banner(text)

    def auth_completed(self) -> None:
        # asyncssh reports success right after the signed attempt it validated last.
        self.user = self._candidate
        log.info("ssh login of %s from %s", self.user, self.peer)
        if self.shared.guard is not None and self._counted:
            self.shared.guard.succeeded(self.peer, admitted=self._counted)
            self._counted = 0

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        raise asyncssh.ChannelOpenError(
            asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "gitstore: port forwarding is not allowed"
        )

    def unix_connection_requested(self, dest_path: str) -> bool:
        raise asyncssh.ChannelOpenError(
            asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "gitstore: forwarding is not allowed"
        )

    def unix_server_requested(self, listen_path: str) -> bool:
        return False


def _refuse(process: asyncssh.SSHServerProcess[bytes], message: str) -> int:
    process.stderr.write(message.encode("utf-8", "replace") + b"\n")
    return REFUSED


async def _session(shared: _Shared, process: asyncssh.SSHServerProcess[bytes]) -> int:
    conn = process.get_extra_info("connection")
    owner = conn.get_owner() if conn is not None else None
    if not isinstance(owner, _Connection) or not owner.user:
        return _refuse(process, "gitstore: not authenticated")
    user = owner.user
    if process.subsystem is not None:
        return _refuse(
            process,
            f"gitstore: subsystem {process.subsystem[:32]!r} is not allowed; "
            "use git clone/fetch/push",
        )
    if process.command is None:
        return _refuse(
            process,
            f"Hi {user}! You've successfully authenticated, but gitstore does not provide "
            "shell access. Use git clone/fetch/push.",
        )
    try:
        command = parse_git_command(process.command)
    except CommandRefused as exc:
        log.info("ssh command of %s refused: %r", user, process.command[:200])
        return _refuse(process, exc.message)
    repo = str(command.repository)
    write = command.service is GitService.RECEIVE_PACK
    try:
        await shared.hooks.authorize(user, repo, write=write)
        repo_path = shared.store.locate(command.repository)
        shared.store.info(command.repository)  # exists on disk?
    except errors.NotFound:
        return _refuse(process, f"gitstore: repository '{repo}' not found")
    except errors.PermissionDenied as exc:
        verb = "push to" if write else "read"
        return _refuse(process, f"gitstore: {user} may not {verb} '{repo}': {exc.message}")
    except errors.GitStoreError as exc:
        return _refuse(process, f"gitstore: {exc.message}")
    context = git_pb.PushContext(
        username=user, transport="ssh", push_id=uuid.uuid4().hex, remote_address=owner.peer
    )
    protocol = process.env.get("GIT_PROTOCOL") or ""
    started = time.monotonic()
    if shared.transport is None:
        with gitproc.open_git(
            command.service, command.repository, repo_path, context, protocol
        ) as invocation:
            code = await gitproc.run_git(invocation, process.stdin, process.stdout, process.stderr)
    else:
        code = await _run_with_transport(shared.transport, command, context, protocol, process)
    log.info(
        "ssh git-%s %s by %s from %s: exit %d in %.3fs (push_id %s)",
        command.service.value,
        repo,
        user,
        owner.peer,
        code,
        time.monotonic() - started,
        context.push_id,
    )
    return code


async def _run_with_transport(
    transport: gitproc.Transport,
    command: GitCommand,
    context: git_pb.PushContext,
    protocol: str,
    process: asyncssh.SSHServerProcess[bytes],
) -> int:
    """Run git as the git service's transport prepares it (hooks, push bookkeeping)."""
    try:
        invocation = await asyncio.to_thread(
            transport.open,
            command.repository,
            f"git-{command.service.value}",
            context=context,
            git_protocol=protocol if gitproc.protocol_ok(protocol) else "",
        )
    except errors.NotFound:
        return _refuse(process, f"gitstore: repository '{command.repository}' not found")
    except errors.GitStoreError as exc:
        return _refuse(process, f"gitstore: {exc.message}")
    try:
        return await gitproc.run_git(invocation, process.stdin, process.stdout, process.stderr)
    finally:
        await asyncio.to_thread(invocation.close)


async def _handle(shared: _Shared, process: asyncssh.SSHServerProcess[bytes]) -> None:
    conn = process.get_extra_info("connection")
    owner = conn.get_owner() if conn is not None else None
    if isinstance(owner, _Connection) and owner.sessions >= MAX_SESSIONS_PER_CONNECTION:
        log.info("ssh session from %s refused: %d already running", owner.peer, owner.sessions)
        with contextlib.suppress(asyncssh.Error, OSError):
            process.exit(
                _refuse(
                    process,
                    f"gitstore: at most {MAX_SESSIONS_PER_CONNECTION} sessions may run at "
                    "once on one connection",
                )
            )
        return
    shared.sessions += 1
    if isinstance(owner, _Connection):
        owner.sessions += 1
    try:
        try:
            code = await _session(shared, process)
        except (asyncssh.Error, BrokenPipeError, ConnectionError) as exc:
            log.info("ssh session ended by the client: %s", exc)
            code = REFUSED
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("ssh session failed (incident %s)", incident)
            code = _refuse(process, f"gitstore: internal error (incident {incident})")
        with contextlib.suppress(asyncssh.Error, OSError):
            process.exit(code)  # the channel may be gone already
    finally:
        shared.sessions -= 1
        if isinstance(owner, _Connection):
            owner.sessions -= 1


@dataclass
class SshHandle:
    """A running SSH listener. ``stop()`` is idempotent."""

    port: int
    address: str
    host_key_fingerprint: str
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread
    _acceptor: asyncssh.SSHAcceptor
    _shared: _Shared
    _stopped: bool = False

    def set_hook_uri(self, uri: str) -> None:
        """Dial the API's hook service at ``uri`` (``host:port``) from now on."""
        self._shared.hooks.set_uri(uri)

    def stop(self, grace: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            _call(self._loop, self._shutdown(grace), timeout=grace + 10.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)

    async def _shutdown(self, grace: float) -> None:
        self._acceptor.close()
        deadline = time.monotonic() + grace
        while self._shared.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self._shared.connections):
            conn.close()
        for conn in list(self._shared.connections):
            await conn.wait_closed()
        await self._acceptor.wait_closed()
        await self._shared.hooks.close()
        log.info("ssh server on %s stopped", self.address)


def _call(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float) -> T:
    future: Future[T] = asyncio.run_coroutine_threadsafe(coro, loop)
    return future.result(timeout)


async def _listen(shared: _Shared) -> asyncssh.SSHAcceptor:
    host_key = load_or_create_host_key(shared.settings.ssh_host_key_path())

    async def handler(process: asyncssh.SSHServerProcess[bytes]) -> None:
        await _handle(shared, process)

    ssh = shared.settings.ssh
    try:
        return await asyncssh.create_server(
            lambda: _Connection(shared),
            ssh.host,
            ssh.port,
            server_host_keys=[host_key],
            process_factory=handler,
            encoding=None,
            allow_pty=False,
            x11_forwarding=False,
            agent_forwarding=False,
            gss_host=None,
            login_timeout=LOGIN_TIMEOUT,
            keepalive_interval=KEEPALIVE_INTERVAL,
            keepalive_count_max=KEEPALIVE_COUNT_MAX,
            reuse_address=True,
        )
    except OSError as exc:
        raise listening.cannot_listen(ssh.host, ssh.port, "SSH", listening.reason_of(exc)) from None


def ssh_guard(
    settings: Settings, *, clock: Callable[[], float] = time.monotonic
) -> CredentialGuard:
    """The per-address limit on refused SSH keys (``GITSTORE_AUTH__*``), in this process."""
    auth = settings.auth
    policy = Policy(
        auth.ssh_failures,
        auth.address_window_seconds,
        auth.base_delay_seconds,
        auth.max_delay_seconds,
    )
    limiter = FailureLimiter(policy, clock=clock, max_keys=auth.max_tracked)
    return CredentialGuard(address=limiter, enabled=auth.enabled)


def start_ssh_server(
    settings: Settings,
    store: RepositoryStore,
    *,
    transport: gitproc.Transport | None = None,
    hook_uri: str | None = None,
    guard: CredentialGuard | None = None,
) -> SshHandle:
    """Listen on ``settings.ssh.host:port`` (0 = a free port) and serve git over SSH.

    ``store`` is the git service's ``RepositoryStore`` (``GitServiceHandle.store``);
    ``transport`` its ``GitTransport`` (``GitServiceHandle.transport``: pushes then run the
    pre-/post-receive hooks; without it git runs with no hooks); ``hook_uri`` overrides
    ``settings.hook.grpc.uri`` for authentication (later: ``handle.set_hook_uri``);
    ``guard`` replaces the refused-key limit made from ``settings.auth`` (tests: a clock).
    """
    shared = _Shared(settings, store, HookClient(settings), transport, guard or ssh_guard(settings))
    if hook_uri:
        shared.hooks.set_uri(hook_uri)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=_run_loop, args=(loop,), name="gitstore-ssh", daemon=True)
    thread.start()
    try:
        acceptor = _call(loop, _listen(shared), timeout=30.0)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)
        raise
    port = acceptor.get_port()
    host = settings.ssh.host
    shown = f"[{host}]" if ":" in host else host
    fingerprint = load_or_create_host_key(settings.ssh_host_key_path()).get_fingerprint("sha256")
    handle = SshHandle(port, f"{shown}:{port}", fingerprint, loop, thread, acceptor, shared)
    log.info("SSH listening on %s (host key %s)", handle.address, fingerprint)
    return handle


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
