"""Fixtures: one API + git service stack per test module, an owner, a fresh ON_RELEASE_TAG
repository per test, and a view of the stack's queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.catalog_writes.harness import Stack

from .harness import QueueView, start_stack
from .ops import Person, make_repository, person


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("releases")) as running:
        yield running


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


@pytest.fixture
def repo(stack: Stack, owner: Person) -> str:
    return make_repository(stack.api, owner)


@pytest.fixture(scope="module")
def queue(stack: Stack) -> QueueView:
    return QueueView(stack.settings)
