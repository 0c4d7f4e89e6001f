"""Fixtures: a real git service on an ephemeral port over a temporary data dir.

``service`` starts ``gitservice.server.start_server`` in this process (the relay publishes
to the SQLite queue in the data dir); ``stub`` is a synchronous gRPC stub on a real channel.
Limits are small (``MAX_FILE``/``MAX_COMMIT``) so oversized content is cheap to send.
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
from tests.gitservice.helpers import make_settings


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
