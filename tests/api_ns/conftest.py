"""Fixtures: one API + git service stack per test module (SQLite metadata store in tmp).

``stack`` is shared by the tests of a module, so tests use fresh names (``unique_name``);
``people`` are an admin and three plain users with login tokens; ``stack_factory`` starts a
private stack for a test that injects failures or needs another metadata backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.stacks import numbered_stacks

from .harness import Stack, start_stack
from .ops import People, make_people


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def people(stack: Stack) -> People:
    return make_people(stack.api)


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    with numbered_stacks(start_stack, tmp_path) as factory:
        yield factory
