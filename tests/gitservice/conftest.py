"""Fixtures: a real git service on an ephemeral port over a temporary data dir.

``service`` starts ``gitservice.server.start_server`` in this process (the relay publishes
to the SQLite queue in the data dir); ``stub`` is a synchronous gRPC stub on a real channel.
Limits are small (``MAX_FILE``/``MAX_COMMIT``) so oversized content is cheap to send.

For the smart-protocol transport tests: ``hooks`` is a test HookService the service's hooks
call, ``http`` the test Smart HTTP shim in front of the service (``(base url, shim)``),
``seeded`` the repository with one commit (``products/a.yaml``), ``work`` a ``git clone`` of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from gitstore.config import Settings
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice.server import GitServiceHandle, start_server
from tests.gitservice.helpers import A, action, commit, make_settings
from tests.gitservice.transport_util import run_git
from tests.support.fake_hooks import FakeHooks, serve_hooks
from tests.support.git_http_shim import Shim, serve_git_http


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def service(settings: Settings) -> Iterator[GitServiceHandle]:
    handle = start_server(settings)
    try:
        yield handle
    finally:
        handle.stop(grace=1.0)


@pytest.fixture
def channel(service: GitServiceHandle) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.Channel) -> pb_grpc.GitServiceStub:
    return pb_grpc.GitServiceStub(channel)


@pytest.fixture
def repo(stub: pb_grpc.GitServiceStub) -> str:
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/catalog"))
    return "acme/catalog"


@pytest.fixture
def hooks(service: GitServiceHandle) -> Iterator[FakeHooks]:
    servicer = FakeHooks()
    with serve_hooks(servicer) as uri:
        service.set_hook_uri(uri)
        yield servicer


@pytest.fixture
def http(service: GitServiceHandle) -> Iterator[tuple[str, Shim]]:
    with serve_git_http(f"127.0.0.1:{service.port}") as served:
        yield served


@pytest.fixture
def seeded(stub: pb_grpc.GitServiceStub, repo: str) -> str:
    commit(stub, repo, action(A.ACTION_TYPE_CREATE, "products/a.yaml", b"name: a\n"))
    return repo


@pytest.fixture
def work(tmp_path: Path, seeded: str, http: tuple[str, Shim]) -> Path:
    work = tmp_path / "work"
    run_git(tmp_path, "clone", "-q", f"{http[0]}/{seeded}.git", str(work))
    return work
