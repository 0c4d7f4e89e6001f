"""Fixtures: one API + git service stack (``tests.catalog_writes.harness``) with a real worker
per test module, an owner, and a fresh repository per test. Store schemas are re-checked
after 0.1 s here (default 1 s) so kind changes show up quickly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.catalog_writes.harness import Stack, start_stack
from tests.catalog_writes.ops import Person, make_repository, person


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("storeschema")
    with start_stack(data_dir) as running:
        running.api.services.store_schemas.ttl = 0.1
        yield running


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


@pytest.fixture
def repo(stack: Stack, owner: Person) -> str:
    return make_repository(stack.api, owner)
