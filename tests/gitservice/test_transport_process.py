"""The smart-protocol RPCs' edges, and the non-stateless invocation the SSH server uses.

``test_bidirectional_*`` drive a real ``git`` through ``ext::`` (tests/support/
git_ext_bridge.py) to an asyncio server here that runs ``GitTransport.open(...,
stateless=False)`` + ``spawn_async`` — the same calls gitservice/ssh makes for a channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice.server import GitServiceHandle
from gitstore.gitservice.transport import process
from tests.gitservice.helpers import A, action, commit, rpc_error
from tests.gitservice.transport_util import commit_file, remote_lines, run_git
from tests.support.fake_hooks import FakeHooks, serve_hooks

BRIDGE = Path(__file__).parent.parent / "support" / "git_ext_bridge.py"


def _advert(stub: pb_grpc.GitServiceStub, repo: str, service: str, protocol: str = "") -> bytes:
    request = pb.AdvertiseRefsRequest(repository_id=repo, service=service, git_protocol=protocol)
    return b"".join(r.data for r in stub.AdvertiseRefs(request))


def test_advertisement_has_no_http_header(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    head = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a.txt", b"a\n")).commit_sha
    for service in process.SERVICES:
        advert = _advert(stub, repo, service)
        assert not advert.startswith(b"001e# service=")
        assert head.encode() in advert.split(b"\n")[0]
        assert advert.endswith(b"0000")


def test_errors_before_git_runs(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    missing = rpc_error(lambda: _advert(stub, "acme/nope", "git-upload-pack"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    bad_service = rpc_error(lambda: _advert(stub, repo, "git-archive"))
    assert bad_service.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "git-archive" in (bad_service.details() or "")
    bad_protocol = rpc_error(lambda: _advert(stub, repo, "git-upload-pack", "version=2\n--x"))
    assert bad_protocol.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad_id = rpc_error(lambda: _advert(stub, "../etc", "git-upload-pack"))
    assert bad_id.code() == grpc.StatusCode.INVALID_ARGUMENT
    for call in (stub.UploadPack, stub.ReceivePack):
        unknown = rpc_error(lambda c=call: c(iter([pb.PackRequest(repository_id="acme/nope")])))
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
        empty = rpc_error(lambda c=call: c(iter([])))
        assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_upload_pack_answers_in_chunks_of_at_most_64_kib(
    stub: pb_grpc.GitServiceStub, repo: str
) -> None:
    files = [action(A.ACTION_TYPE_CREATE, f"f{i}.bin", os.urandom(60_000)) for i in range(4)]
    head = commit(stub, repo, *files).commit_sha
    want = f"want {head} side-band-64k no-progress\n".encode()
    body = b"%04x" % (len(want) + 4) + want + b"0000" + b"0009done\n"
    requests = [pb.PackRequest(repository_id=repo), pb.PackRequest(data=body)]
    answers = [r.data for r in stub.UploadPack(iter(requests))]
    assert b"".join(answers).startswith(b"0008NAK\n")
    assert len(answers) > 1 and max(len(a) for a in answers) <= process.CHUNK
    assert sum(len(a) for a in answers) > 240_000


def test_git_env_keeps_nothing_of_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.hooksPath'='/tmp/evil'")
    env = process.git_env("version=2", {"X": "1"})
    assert "GIT_DIR" not in env and "GIT_CONFIG_PARAMETERS" not in env
    assert env["GIT_PROTOCOL"] == "version=2" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    argv = process.git_command("receive-pack", Path("/r.git"), stateless=True, hooks_dir=Path("/h"))
    assert argv[:3] == ["git", "-c", "core.hooksPath=/h"]
    assert argv[-3:] == ["--stateless-rpc", "--", "/r.git"]


# ---------------------------------------------------------------------- bidirectional (SSH)


@contextlib.contextmanager
def _bridge_server(service: GitServiceHandle, repo: str, user: str) -> Iterator[int]:
    """An asyncio TCP server running one non-stateless invocation per connection."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        name = (await reader.readline()).decode().strip()
        context = pb.PushContext(username=user, transport="ssh", remote_address="127.0.0.1")
        with service.transport.open(repo, name, context=context, stateless=False) as inv:
            proc = await process.spawn_async(inv)
            assert proc.stdin is not None and proc.stdout is not None
            assert proc.stderr is not None

            async def upstream() -> None:
                assert proc.stdin is not None
                while data := await reader.read(65536):
                    proc.stdin.write(data)
                    await proc.stdin.drain()
                proc.stdin.close()

            feeding = asyncio.ensure_future(upstream())
            while data := await proc.stdout.read(65536):
                writer.write(data)
                await writer.drain()
            await proc.stderr.read()
            await proc.wait()
            feeding.cancel()
        writer.close()

    stop = asyncio.Event()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        started.set()
        async with server:
            await stop.wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


def test_bidirectional_clone_and_push(
    tmp_path: Path, service: GitServiceHandle, stub: pb_grpc.GitServiceStub, repo: str
) -> None:
    commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a.txt", b"a\n"))
    hooks = FakeHooks(post_messages=["thanks"])
    with serve_hooks(hooks) as uri, _bridge_server(service, repo, "grace") as port:
        service.set_hook_uri(uri)
        url = f"ext::{sys.executable} {BRIDGE} {port} %S"
        work = tmp_path / "work"
        run_git(tmp_path, "-c", "protocol.ext.allow=always", "clone", "-q", url, str(work))
        assert (work / "a.txt").read_text() == "a\n"
        new = commit_file(tmp_path, work, "b.txt", "b\n", "add b")
        done = run_git(tmp_path, "-c", "protocol.ext.allow=always", "push", url, "main", cwd=work)
    assert "thanks" in remote_lines(done.stderr)
    (pre,) = hooks.pre
    assert pre.context.transport == "ssh" and pre.context.username == "grace"
    assert len(pre.context.push_id) == 32  # made by open() when the caller gives none
    head = stub.ResolveRevision(pb.ResolveRevisionRequest(repository_id=repo, revision="main"))
    assert head.commit_sha == new
