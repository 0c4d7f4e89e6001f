"""A real API (uvicorn, ephemeral port) wired to a real git service (gRPC, ephemeral port).

``start_stack(tmp, **setting_overrides)`` starts the git service
(``gitstore.gitservice.server.start_server``), then the API whose git client is a real
``GitClient`` on that port; the metadata store is SQLite and the KV store the SQLite file in
the data dir (the API opens both itself). The server object is the platform's
``tests.api.server.ApiServer``; :class:`Stack` adds views of the bare repositories through the
real ``git`` binary (``git_head``, ``git_log``, ``git_show``, ``commit_count``) and
``advance_index(repo, commit)``, a tiny stand-in for the projection worker that moves the KV
``draft`` head of a repository (what ``waitForIndex`` waits for).
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitstore.api.app import create_app
from gitstore.backends.kv import Batch
from gitstore.config import Settings, load_settings
from gitstore.domain.keys import DRAFT, ChannelScope
from gitstore.git.client import GitClient
from gitstore.gitservice.server import GitServiceHandle, start_server
from gitstore.worker.service import WorkerService
from tests.api.server import TEST_JWT_SECRET, ApiServer
from tests.support.uvicorn_thread import serve_in_thread

_sequence = itertools.count(1)


@dataclass
class Stack:
    api: ApiServer
    git: GitServiceHandle
    settings: Settings

    # ------------------------------------------------------------------ git, read directly
    def git_dir(self, repository: str) -> Path:
        return self.settings.repos_dir() / f"{repository}.git"

    def run_git(self, repository: str, *args: str) -> str:
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir(repository)), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def git_head(self, repository: str, branch: str = "main") -> str | None:
        done = subprocess.run(
            [
                "git",
                "--git-dir",
                str(self.git_dir(repository)),
                "rev-parse",
                "--verify",
                "-q",
                f"refs/heads/{branch}",
            ],
            capture_output=True,
            text=True,
        )
        return done.stdout.strip() or None

    def commit_count(self, repository: str, branch: str = "main") -> int:
        if self.git_head(repository, branch) is None:
            return 0
        return int(self.run_git(repository, "rev-list", "--count", f"refs/heads/{branch}"))

    def git_show(self, repository: str, path: str, revision: str = "refs/heads/main") -> bytes:
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir(repository)), "show", f"{revision}:{path}"],
            capture_output=True,
            check=True,
        )
        return done.stdout

    def trailers(self, repository: str, revision: str = "refs/heads/main") -> dict[str, str]:
        raw = self.run_git(repository, "log", "-1", "--format=%(trailers:only,unfold)", revision)
        pairs = (line.split(": ", 1) for line in raw.splitlines() if ": " in line)
        return {key: value for key, value in pairs}

    def files(self, repository: str, revision: str = "refs/heads/main") -> list[str]:
        """Every file but the layout marker (``all_files`` includes it)."""
        return [p for p in self.all_files(repository, revision) if not p.startswith(".gitstore/")]

    def all_files(self, repository: str, revision: str = "refs/heads/main") -> list[str]:
        return self.run_git(repository, "ls-tree", "-r", "--name-only", revision).split()

    # ------------------------------------------------------------------ projection stand-in
    def advance_index(self, repository: str, commit: str) -> None:
        """Move the KV draft head of ``repository`` to ``commit`` (as the worker would)."""
        batch = Batch(ChannelScope(repository, DRAFT), sequence=next(_sequence), version=commit)
        self.api.run(self.api.services.kv().apply(batch))


def stack_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "db.url": f"sqlite:///{(data_dir / 'metadata.sqlite3').resolve()}",
        "api.jwt_secret": TEST_JWT_SECRET,
        "grpc.port": 0,
        "git.fsync": False,
    }
    values.update(overrides)
    return load_settings(**values)


@contextmanager
def start_stack(
    data_dir: Path, *, git_wrapper: Callable[[GitClient], Any] | None = None, **overrides: Any
) -> Iterator[Stack]:
    """``git_wrapper`` may put a failure-injecting double around the real git client."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = stack_settings(data_dir, **overrides)
    git = start_server(settings)
    try:
        uri = f"127.0.0.1:{git.port}"

        def git_factory(_settings: Settings) -> Any:
            client = GitClient(uri, timeout=30)
            return git_wrapper(client) if git_wrapper is not None else client

        with _serve(settings, git_factory) as api:
            yield Stack(api, git, settings)
    finally:
        git.stop(grace=1.0)


@contextmanager
def _serve(settings: Settings, git_factory: Any) -> Iterator[ApiServer]:
    app = create_app(settings, git_client_factory=git_factory)
    with serve_in_thread(app, name="catalog-writes", client_timeout=60) as served:
        base_url, client, loop = served
        yield ApiServer(base_url, app, client, loop)


@contextmanager
def running_worker(stack: Stack, **options: Any) -> Iterator[WorkerService]:
    """The real projection worker beside ``stack``'s API, on the API's loop, with the API's KV
    and resource store (so storefront reads, watches and status writes see what it projects)
    and its own gRPC client of the git service (grpc.aio channels belong to the loop they are
    made on). ``options`` go to ``WorkerService`` (e.g. ``grace``)."""

    async def client() -> GitClient:
        return GitClient(f"127.0.0.1:{stack.git.port}", timeout=30)

    git = stack.api.run(client())
    services = stack.api.services
    options = {"grace": 1.0, "pending_interval": 0.5, **options}
    service = WorkerService(
        stack.settings, kv=services.kv(), resources=services.resources(), git=git, **options
    )
    stack.api.run(service.start())
    try:
        yield service
    finally:
        stack.api.run(service.stop())
        stack.api.run(git.close())
