"""Fixtures: a real git service on an ephemeral port, its SQLite queue and a SQLite KV in tmp.

* ``settings``: embedded backends in ``tmp_path/data`` (``harness.make_settings``);
* ``git_service``: ``gitservice.server.start_server`` in this process (its relay publishes
  ref-update events to the settings' queue);
* ``worker_settings``: ``settings`` with ``git.grpc.uri`` pointing at that service — what a
  ``WorkerService`` or a ``gitstore worker`` process needs;
* ``git``: an async ``GitClient`` on it; ``kv``: the SQLite KV store; ``repo``: a fresh
  repository ``acme/catalog``; ``projector``: a ``Projector`` over ``git`` and ``kv``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.config import Settings
from gitstore.git.client import GitClient
from gitstore.gitservice.server import GitServiceHandle, start_server
from gitstore.worker.projector import Projector
from tests.worker.harness import create_repository, make_settings, with_git_uri


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def git_service(settings: Settings) -> Iterator[GitServiceHandle]:
    handle = start_server(settings)
    try:
        yield handle
    finally:
        handle.stop(grace=1.0)


@pytest.fixture
def worker_settings(settings: Settings, git_service: GitServiceHandle) -> Settings:
    return with_git_uri(settings, f"127.0.0.1:{git_service.port}")


@pytest.fixture
async def git(worker_settings: Settings) -> AsyncIterator[GitClient]:
    client = GitClient.from_settings(worker_settings)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def kv(settings: Settings) -> AsyncIterator[KvStore]:
    store = await open_kv_store(settings.kv_url())
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def repo(git: GitClient) -> str:
    return await create_repository(git, "acme/catalog")


@pytest.fixture
def projector(git: GitClient, kv: KvStore) -> Projector:
    return Projector(git, kv, owner="test-projector")
