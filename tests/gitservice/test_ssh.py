"""Git over SSH end to end: the real ``ssh`` client and real ``git`` against
``start_ssh_server`` with a real gRPC HookService (``ssh_helpers.FakeHooks``) that knows two
keys (wendy writes, rita reads acme/catalog) and nothing else. The per-connection session
cap is driven with an asyncssh client: the ``ssh`` client opens one session per connection
unless multiplexed."""

from __future__ import annotations

import asyncio
import re
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import grpc
import pytest

from gitstore.config import Settings
from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.ssh import SshHandle, start_ssh_server
from gitstore.gitservice.ssh.server import MAX_AUTH_FAILURES, MAX_SESSIONS_PER_CONNECTION
from gitstore.gitservice.storage import RepositoryStore
from tests.gitservice.helpers import make_settings
from tests.gitservice.proc import ServiceProcess
from tests.gitservice.ssh_helpers import (
    READ,
    WRITE,
    ClientKey,
    FakeHooks,
    git_env,
    make_key,
    require_tools,
    run_git,
    run_ssh,
    serve_hooks,
    ssh_argv,
)

REPO = "acme/catalog"
ONLY_GIT = "gitstore: only git-upload-pack and git-receive-pack are allowed"


@dataclass
class World:
    tmp: Path
    settings: Settings
    store: RepositoryStore
    hooks: FakeHooks
    hooks_port: int
    ssh: SshHandle
    writer: ClientKey
    reader: ClientKey
    stranger: ClientKey

    @property
    def port(self) -> int:
        return self.ssh.port

    def url(self, path: str = "/acme/catalog.git") -> str:
        return f"ssh://git@127.0.0.1:{self.port}{path}"

    def bare(self, repo: str = REPO) -> Path:
        return self.store.locate(RepositoryId.parse(repo))

    def ref(self, ref: str = "refs/heads/main", repo: str = REPO) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.bare(repo)), "rev-parse", "--verify", "-q", ref],
            capture_output=True,
            text=True,
        ).stdout.strip()


def _seed(store: RepositoryStore, tmp: Path, key: ClientKey) -> None:
    store.create(RepositoryId.parse(REPO), "main", "")
    work = tmp / "seed"
    env = git_env(tmp, key.path)
    run_git(env, "init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("hello\n")
    run_git(env, "add", "README.md", cwd=work)
    run_git(env, "commit", "-q", "-m", "seed", cwd=work)
    run_git(env, "push", "-q", str(store.locate(RepositoryId.parse(REPO))), "main", cwd=work)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_tools()
    tmp = tmp_path_factory.mktemp("ssh")
    keys = tmp / "keys"
    keys.mkdir()
    writer, reader, stranger = (make_key(keys, n) for n in ("wendy", "rita", "stranger"))
    hooks = FakeHooks(
        keys={
            writer.public_line: (writer.fingerprint, "wendy"),
            reader.public_line: (reader.fingerprint, "rita"),
        },
        grants={("wendy", REPO): WRITE, ("rita", REPO): READ, ("wendy", "acme/ghost"): WRITE},
        repositories={REPO, "acme/ghost"},
    )
    grpc_server, hooks_port = serve_hooks(hooks)
    # The hook uri in the settings is wrong on purpose: set_hook_uri must win at run time.
    settings = make_settings(tmp / "data", **{"ssh.port": 0, "hook.grpc.uri": "127.0.0.1:9"})
    store = RepositoryStore(settings.repos_dir(), fsync=False)
    _seed(store, tmp, writer)
    handle = start_ssh_server(settings, store)
    handle.set_hook_uri(f"127.0.0.1:{hooks_port}")
    try:
        yield World(tmp, settings, store, hooks, hooks_port, handle, writer, reader, stranger)
    finally:
        handle.stop(grace=1.0)
        grpc_server.stop(None)


def _clone(
    world: World,
    key: ClientKey,
    dest: Path,
    *extra: str,
    url: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    env = git_env(world.tmp, key.path)
    return run_git(env, *extra, "clone", "-q", url or world.url(), str(dest), check=check)


# ---------------------------------------------------------------------- fetch and push


@pytest.mark.parametrize("protocol", ["0", "2"])
def test_reader_clones_with_the_real_clients(world: World, tmp_path: Path, protocol: str) -> None:
    _clone(world, world.reader, tmp_path / "c", "-c", f"protocol.version={protocol}")
    assert (tmp_path / "c" / "README.md").read_text() == "hello\n"
    head = run_git(git_env(world.tmp, world.reader.path), "rev-parse", "HEAD", cwd=tmp_path / "c")
    assert head.stdout.strip() == world.ref()
    asked = [r for r in world.hooks.called("AuthorizeGit") if r.username == "rita"]
    assert asked and asked[-1].access == READ and asked[-1].transport == "ssh"
    assert asked[-1].repository_id == REPO


@pytest.mark.parametrize("path", ["acme/catalog.git", "/acme/catalog", "acme/catalog"])
def test_path_spellings_and_dashless_upload_pack(world: World, tmp_path: Path, path: str) -> None:
    url = f"git@127.0.0.1:{path}"  # scp-like syntax: no leading slash is sent
    if path.startswith("/"):
        url = world.url(path)
    env = git_env(world.tmp, world.reader.path)
    env["GIT_SSH_COMMAND"] += f" -p {world.port}"
    run_git(env, "clone", "-q", "-u", "git upload-pack", url, str(tmp_path / "c"))
    assert (tmp_path / "c" / "README.md").exists()


def test_writer_push_moves_the_ref(world: World, tmp_path: Path) -> None:
    work = tmp_path / "w"
    _clone(world, world.writer, work)
    env = git_env(world.tmp, world.writer.path)
    (work / "products.yaml").write_text("kind: Product\n")
    run_git(env, "add", "products.yaml", cwd=work)
    run_git(env, "commit", "-q", "-m", "add a product", cwd=work)
    before = world.ref()
    run_git(env, "push", "-q", "origin", "main", cwd=work)
    pushed = run_git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    assert world.ref() == pushed != before
    run_git(env, "push", "-q", "origin", "main:refs/heads/feature", cwd=work)
    assert world.ref("refs/heads/feature") == pushed
    asked = world.hooks.called("AuthorizeGit")[-1]
    assert asked.username == "wendy" and asked.access == WRITE
    assert asked.transport == "ssh"


def test_reader_push_is_refused(world: World, tmp_path: Path) -> None:
    work = tmp_path / "r"
    _clone(world, world.reader, work)
    env = git_env(world.tmp, world.reader.path)
    (work / "evil.yaml").write_text("x\n")
    run_git(env, "add", "evil.yaml", cwd=work)
    run_git(env, "commit", "-q", "-m", "not allowed", cwd=work)
    before = world.ref()
    done = run_git(env, "push", "origin", "main", cwd=work, check=False)
    assert done.returncode != 0
    assert "gitstore: rita may not push to 'acme/catalog'" in done.stderr
    assert world.ref() == before


@pytest.mark.parametrize("path", ["/acme/missing.git", "/acme/ghost.git", "/other/catalog.git"])
def test_unknown_repositories_are_not_found(world: World, tmp_path: Path, path: str) -> None:
    # acme/ghost is authorised by the API but does not exist on disk.
    done = _clone(world, world.writer, tmp_path / "x", url=world.url(path), check=False)
    assert done.returncode != 0
    assert f"gitstore: repository '{path[1:-4]}' not found" in done.stderr
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------------- authentication


def test_unknown_key_is_refused(world: World) -> None:
    done = run_ssh(world.port, world.stranger.path, "git-upload-pack '/acme/catalog.git'")
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr
    looked_up = [r.fingerprint for r in world.hooks.called("AuthenticateSshKey")]
    assert world.stranger.fingerprint in looked_up


def test_wrong_login_name_is_refused_without_asking_the_api(world: World) -> None:
    before = len(world.hooks.called("AuthenticateSshKey"))
    for user in ("root", "wendy", "Git"):
        done = run_ssh(
            world.port, world.writer.path, "git-upload-pack '/acme/catalog.git'", user=user
        )
        assert done.returncode == 255, user
        assert "Permission denied (publickey)" in done.stderr
    assert len(world.hooks.called("AuthenticateSshKey")) == before


def test_only_public_key_authentication_is_offered(world: World) -> None:
    done = run_ssh(
        world.port,
        world.writer.path,
        "true",
        options=(
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
        ),
    )
    assert done.returncode == 255
    assert "Permission denied (publickey)." in done.stderr


def test_api_unreachable_refuses_the_login(world: World) -> None:
    world.ssh.set_hook_uri("127.0.0.1:9")
    try:
        done = run_ssh(
            world.port, world.writer.path, "git-upload-pack '/acme/catalog.git'", log_level="INFO"
        )
    finally:
        world.ssh.set_hook_uri(f"127.0.0.1:{world.hooks_port}")
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr
    # the client is told why (an auth banner, shown at OpenSSH's default log level)
    assert "authentication service is unavailable" in done.stderr
    assert done.stderr.count("authentication service is unavailable") == 1


def test_a_refused_key_gets_no_banner(world: World) -> None:
    done = run_ssh(
        world.port,
        world.stranger.path,
        "git-upload-pack '/acme/catalog.git'",
        log_level="INFO",
    )
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr
    assert "unavailable" not in done.stderr


def test_too_many_refused_keys_cut_the_connection(world: World, tmp_path: Path) -> None:
    keys = [make_key(tmp_path, f"unknown{n}") for n in range(MAX_AUTH_FAILURES + 2)]
    offered = tuple(arg for key in keys[1:] for arg in ("-i", str(key.path)))
    before = len(world.hooks.called("AuthenticateSshKey"))
    done = run_ssh(world.port, keys[0].path, "git-upload-pack '/acme/catalog.git'", options=offered)
    assert done.returncode == 255
    assert "too many authentication failures" in done.stderr
    asked = [r.fingerprint for r in world.hooks.called("AuthenticateSshKey")[before:]]
    assert asked == [key.fingerprint for key in keys[:MAX_AUTH_FAILURES]]


def test_sessions_per_connection_are_capped(world: World) -> None:
    command = "git-upload-pack '/acme/catalog.git'"

    async def advertised(conn: asyncssh.SSHClientConnection) -> Any:
        process = await conn.create_process(command, encoding=None)
        assert (await process.stdout.readexactly(4)).isalnum()  # the first pkt-line length
        return process

    async def scenario() -> None:
        key = asyncssh.read_private_key(str(world.writer.path))
        async with asyncssh.connect(
            "127.0.0.1", world.port, username="git", client_keys=[key], known_hosts=None
        ) as conn:
            running = [await advertised(conn) for _ in range(MAX_SESSIONS_PER_CONNECTION)]
            extra = await conn.create_process(command, encoding=None)
            # the bound only turns a missing cap (upload-pack waiting for wants) into a failure
            refused = await asyncio.wait_for(extra.wait(), 30)
            assert refused.exit_status == 128
            assert isinstance(refused.stderr, bytes)
            assert f"at most {MAX_SESSIONS_PER_CONNECTION} sessions".encode() in refused.stderr
            first = running.pop()
            first.stdin.write(b"0000")  # no wants: upload-pack ends
            first.stdin.write_eof()
            assert (await first.wait()).exit_status == 0
            running.append(await advertised(conn))  # a free slot again
            for process in running:
                process.stdin.write(b"0000")
                process.stdin.write_eof()
                await process.wait()

    asyncio.run(scenario())


# ---------------------------------------------------------------------- sessions refused


@pytest.mark.parametrize("terminal", [False, True], ids=["no-terminal", "terminal"])
def test_shell_is_refused(world: World, terminal: bool) -> None:
    done = run_ssh(world.port, world.writer.path, terminal=terminal)
    assert done.returncode == 128
    assert "Hi wendy! You've successfully authenticated" in done.stderr
    assert "does not provide shell access" in done.stderr
    if terminal:  # the client asked for a pty (interactive use) and was told no
        assert "PTY allocation request failed" in done.stderr


def test_forced_pty_is_refused(world: World) -> None:
    # -tt makes a refused pty fatal in the client: nothing runs.
    done = run_ssh(world.port, world.writer.path, options=("-tt",))
    assert done.returncode == 255
    assert "PTY allocation request failed" in done.stderr


def test_subsystems_are_refused(world: World) -> None:
    done = run_ssh(world.port, world.writer.path, "sftp", options=("-s",))
    assert done.returncode == 255  # no SFTP server at all: the request itself fails
    assert "subsystem request failed" in done.stderr
    done = run_ssh(world.port, world.writer.path, "git", options=("-s",))
    assert done.returncode == 128
    assert "gitstore: subsystem 'git' is not allowed" in done.stderr


def test_stdio_and_remote_forwarding_are_refused(world: World) -> None:
    done = run_ssh(world.port, world.writer.path, options=("-W", f"127.0.0.1:{world.hooks_port}"))
    assert done.returncode == 255
    assert "stdio forwarding failed" in done.stderr
    done = run_ssh(
        world.port,
        world.writer.path,
        options=("-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"),
    )
    assert done.returncode == 255
    assert "remote port forwarding failed" in done.stderr


def test_local_forwarding_is_refused(world: World) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    argv = [
        *ssh_argv(world.writer.path, "INFO"),
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-L",
        f"127.0.0.1:{local}:127.0.0.1:{world.hooks_port}",
        "-p",
        str(world.port),
        "git@127.0.0.1",
    ]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        received = b"?"
        for _ in range(200):  # until ssh listens on the local port
            try:
                with socket.create_connection(("127.0.0.1", local), timeout=10) as conn:
                    received = conn.recv(10)  # the server refuses the channel: closed
                break
            except ConnectionRefusedError:
                if proc.poll() is not None:
                    break
                threading.Event().wait(0.05)
        assert received == b""
    finally:
        proc.kill()  # -N runs until killed; what it printed is already in the pipe
        _, stderr = proc.communicate(timeout=30)
    assert "administratively prohibited: gitstore: port forwarding is not allowed" in stderr


def test_pty_with_a_command_is_declined_but_the_command_is_judged(world: World) -> None:
    done = run_ssh(
        world.port,
        world.writer.path,
        "git-upload-pack '/nope/x.git'",
        options=("-t",),
        terminal=True,
    )
    assert "PTY allocation request failed" in done.stderr


MARK = "PWNED"


def _attacks(marker: Path) -> list[tuple[str, str]]:
    touch = f"touch {marker}"
    bad_path = "gitstore: invalid repository path"
    return [
        ("ls", ONLY_GIT),
        ("git-upload-archive '/acme/catalog.git'", ONLY_GIT),
        ("git-upload-pack", ONLY_GIT),
        ("git  upload-pack '/acme/catalog.git'", ONLY_GIT),
        (f"{touch}; git-upload-pack '/acme/catalog.git'", ONLY_GIT),
        (f"sh -c '{touch}'", ONLY_GIT),
        (f"git-upload-pack '/acme/catalog.git'; {touch}", bad_path),
        (f"git-upload-pack '/acme/catalog.git' && {touch}", bad_path),
        (f"git-upload-pack '/acme/catalog.git'\n{touch}", bad_path),
        (f"git-upload-pack '/acme/catalog.git' | {touch}", bad_path),
        (f"git-receive-pack '$({touch})'", bad_path),
        (f"git-receive-pack '`{touch}`'", bad_path),
        (f"git-upload-pack '/acme/catalog.git'''; {touch}; echo ''", bad_path),
        (f"git-upload-pack '/acme/'\\''; {touch}; '\\''.git'", bad_path),
        ("git-upload-pack '../../etc'", bad_path),
        ("git-upload-pack '/acme/../../etc/passwd'", bad_path),
        ("git-upload-pack '/acme/../catalog.git'", bad_path),
        ("git-upload-pack '/etc/passwd'", "gitstore: repository 'etc/passwd' not found"),
        ("git-upload-pack '/'", bad_path),
        ("git-upload-pack ''", bad_path),
        ("git-upload-pack /acme/catalog.git", bad_path),
        ('git-upload-pack "/acme/catalog.git"', bad_path),
        ("git-upload-pack '/acme/catalog.git' --upload-pack=touch", bad_path),
        ("git-upload-pack --help '/acme/catalog.git'", bad_path),
        ("git-upload-pack '--upload-pack=touch /x/y.git'", bad_path),
        ("git-upload-pack '/Acme/catalog.git'", bad_path),
        ("git-upload-pack '/acme/catalog.git/'", bad_path),
        ("git-upload-pack '/acme/catalog/x.git'", bad_path),
        ("git-upload-pack '//acme/catalog.git'", bad_path),
        ("git-upload-pack '/acme/.git'", bad_path),
        ("git-upload-pack '/acme/catalog.git.git'", bad_path),
    ]


def test_injection_attempts_are_refused_without_side_effects(world: World, tmp_path: Path) -> None:
    marker = tmp_path / MARK
    before = {ref: world.ref(ref) for ref in ("refs/heads/main",)}
    for command, message in _attacks(marker):
        done = run_ssh(world.port, world.writer.path, command)
        assert done.returncode == 128, command
        assert message in done.stderr, (command, done.stderr)
        assert done.stdout == "", command
    assert not marker.exists()
    assert {ref: world.ref(ref) for ref in before} == before
    assert not list(world.settings.repos_dir().glob("etc*"))


# ---------------------------------------------------------------------- host key


def test_host_key_is_made_once_and_stable_across_restarts(tmp_path: Path) -> None:
    require_tools()
    settings = make_settings(tmp_path / "data", **{"ssh.port": 0})
    store = RepositoryStore(settings.repos_dir(), fsync=False)
    key_file = settings.ssh_host_key_path()
    assert not key_file.exists()
    scans: list[str] = []
    fingerprints: list[str] = []
    for _ in range(2):
        handle = start_ssh_server(settings, store)
        try:
            scan = subprocess.run(
                ["ssh-keyscan", "-t", "ed25519", "-p", str(handle.port), "127.0.0.1"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
            scans.append(" ".join(scan.split()[1:3]))
            fingerprints.append(handle.host_key_fingerprint)
        finally:
            handle.stop(grace=0.5)
    assert scans[0].startswith("ssh-ed25519 ")
    assert scans[0] == scans[1]
    assert fingerprints[0] == fingerprints[1]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(key_file)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert listed[1] == fingerprints[0]


def test_taken_port_is_an_error(world: World, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", **{"ssh.port": world.port})
    store = RepositoryStore(settings.repos_dir(), fsync=False)
    from gitstore.domain.errors import Unavailable

    with pytest.raises(Unavailable, match=r"cannot listen on .* \(SSH: "):
        start_ssh_server(settings, store)


def test_grpc_is_real(world: World) -> None:
    # The servicer is a real gRPC server: an unknown key is NOT_FOUND over the wire.
    from gitstore.hook.v1 import hook_service_pb2 as hook_pb
    from gitstore.hook.v1 import hook_service_pb2_grpc as hook_grpc

    with grpc.insecure_channel(f"127.0.0.1:{world.hooks_port}") as channel:
        stub = hook_grpc.HookServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.AuthenticateSshKey(
                hook_pb.AuthenticateSshKeyRequest(public_key="x", fingerprint="y")
            )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_git_service_command_serves_ssh(tmp_path: Path) -> None:
    require_tools()
    listening = re.compile(r"SSH listening on 127\.0\.0\.1:(\d+) \(host key (SHA256:\S+)\)")
    with ServiceProcess(tmp_path / "data") as service:  # passes --ssh-port 0
        found = None
        for _ in range(600):
            found = listening.search(service.log)
            if found or (service.proc is not None and service.proc.poll() is not None):
                break
            threading.Event().wait(0.05)
        assert found is not None, service.log
        scan = subprocess.run(
            ["ssh-keyscan", "-t", "ed25519", "-p", found.group(1), "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert scan.split()[1] == "ssh-ed25519"
        assert service.terminate() == 0
    assert "Traceback" not in service.log
    assert (tmp_path / "data" / "ssh_host_ed25519_key").is_file()
