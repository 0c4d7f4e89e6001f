from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gitstore.gitservice.server import GitServiceHandle, start_server
from tests.api_hooks.harness import Hooks, hook_settings, open_hooks


@pytest.fixture(scope="module")
def git_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServiceHandle]:
    data_dir = tmp_path_factory.mktemp("git")
    handle = start_server(hook_settings(data_dir))
    try:
        yield handle
    finally:
        handle.stop(grace=1.0)


@pytest.fixture
async def hooks(git_service: GitServiceHandle, tmp_path: Path) -> AsyncIterator[Hooks]:
    made, services = await open_hooks(hook_settings(tmp_path / "api"), git_service.port)
    try:
        yield made
    finally:
        await services.stop()
