"""Fixtures: one API + git service stack per test module (``harness.start_git_stack``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import GitStack, start_git_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_git_stack(tmp_path_factory.mktemp("git-stack")) as running:
        yield running
