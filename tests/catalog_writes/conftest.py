"""Fixtures: one API + git service stack per test module, an owner, and a fresh repository
per test (so commit counts and branch heads belong to one test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.stacks import numbered_stacks

from .harness import Stack, start_stack
from .ops import Person, make_repository, person


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("catalog-writes")) as running:
        yield running


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


@pytest.fixture
def repo(stack: Stack, owner: Person) -> str:
    return make_repository(stack.api, owner)


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    with numbered_stacks(start_stack, tmp_path) as factory:
        yield factory
