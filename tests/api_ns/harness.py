"""A real API server wired to a real git service, for the namespace and repository tests.

``start_stack(tmp, db_url=..., store_wrapper=..., git_wrapper=...)`` starts the git service
(``gitstore.gitservice.server.start_server`` on an ephemeral gRPC port, its own data dir) and
the API (uvicorn on an ephemeral port, in a thread) whose git client is a real
``GitClient`` on that port. Wrappers let a test put a failing double around the real store or
client (unit doubles around real parts, for failure injection). The server object is the
platform's ``tests.api.server.ApiServer`` (``graphql``, ``create_user``, ``login``, ``run``),
plus ``git_repositories()`` which asks the git service over gRPC what it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from gitstore.api.app import create_app
from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.config import Settings, load_settings
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice.server import GitServiceHandle, start_server
from tests.api.server import TEST_JWT_SECRET, ApiServer
from tests.support.uvicorn_thread import serve_in_thread

StoreWrapper = Callable[[MetadataStore], Any]
GitWrapper = Callable[[GitClient], Any]


@dataclass
class Stack:
    api: ApiServer
    git: GitServiceHandle
    settings: Settings

    def git_repositories(self, namespace: str = "") -> list[str]:
        with grpc.insecure_channel(f"127.0.0.1:{self.git.port}") as channel:
            stub = pb_grpc.GitServiceStub(channel)
            response = stub.ListRepositories(pb.ListRepositoriesRequest(namespace=namespace))
        return sorted(r.repository_id for r in response.repositories)

    def git_create(self, repository_id: str) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{self.git.port}") as channel:
            stub = pb_grpc.GitServiceStub(channel)
            stub.CreateRepository(pb.CreateRepositoryRequest(repository_id=repository_id))


def stack_settings(data_dir: Path, db_url: str | None = None) -> Settings:
    return load_settings(
        **{
            "data_dir": str(data_dir),
            "db.url": db_url or f"sqlite:///{(data_dir / 'metadata.sqlite3').resolve()}",
            "api.jwt_secret": TEST_JWT_SECRET,
            "grpc.port": 0,
            "git.fsync": False,
        }
    )


@contextmanager
def start_stack(
    data_dir: Path,
    *,
    db_url: str | None = None,
    store_wrapper: StoreWrapper | None = None,
    git_wrapper: GitWrapper | None = None,
) -> Iterator[Stack]:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = stack_settings(data_dir, db_url)
    git = start_server(settings)
    try:
        uri = f"127.0.0.1:{git.port}"

        def git_factory(_settings: Settings) -> Any:
            client = GitClient(uri, timeout=30)
            return git_wrapper(client) if git_wrapper else client

        store: Any = open_metadata_store(settings.db_url())
        if store_wrapper is not None:
            store = store_wrapper(store)
        with _serve(settings, store, git_factory) as api:
            yield Stack(api, git, settings)
    finally:
        git.stop(grace=1.0)


@contextmanager
def _serve(settings: Settings, store: Any, git_factory: Any) -> Iterator[ApiServer]:
    app = create_app(settings, metadata_store=store, git_client_factory=git_factory)

    def close_store(loop: asyncio.AbstractEventLoop) -> None:
        # the store was passed in, so the app did not close it: close it on its loop's thread
        loop.run_until_complete(store.close())

    with serve_in_thread(app, name="api-ns", before_close=close_store) as served:
        base_url, client, loop = served
        yield ApiServer(base_url, app, client, loop)
