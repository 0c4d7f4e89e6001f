"""Fixtures: one API + git service stack with federation on (``api.federation``) and a real
worker per module, an owner, and a fresh PUBLIC repository holding two products, a category,
a collection and a custom kind (``Brand``) with one brand, projected before the test runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitstore.api.catalog.ids import encode_resource_id
from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack, start_stack
from tests.catalog_writes.ops import Person, make_repository, ok, person
from tests.catalog_writes.test_custom_kinds import apply
from tests.catalog_writes.test_custom_kinds import worker as worker
from tests.federation.gateway import node_binary
from tests.support.kinds import brand, brand_kind


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("federation")
    with start_stack(data_dir, **{"api.federation": True}) as running:
        yield running


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with the pinned Apollo packages installed (``gateway.py``)."""
    return node_binary()


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


def manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


@dataclass(frozen=True)
class Catalogue:
    repo: str  # <namespace>/<repo>, PUBLIC, ON_COMMIT
    ids: dict[str, str]  # "<Kind>/<name>" -> global id


def fill(stack: Stack, owner: Person, repo: str) -> None:
    written = ok(
        apply(
            stack,
            owner,
            repo,
            brand_kind(),
            brand("acme"),
            manifest("Category", "shirts", {"title": "Shirts"}),
            manifest(
                "Product",
                "blue-shirt",
                {"title": "Blue Shirt", "status": "active", "categories": ["shirts"]},
            ),
            manifest("Product", "red-shirt", {"title": "Red Shirt", "status": "active"}),
            manifest("Collection", "summer", {"title": "Summer", "products": ["red-shirt"]}),
            waitForIndex=True,
            indexTimeout=30.0,
        )
    )
    assert written["indexing"]["state"] == "INDEXED", written


@pytest.fixture(scope="module")
def catalogue(stack: Stack, owner: Person, worker: WorkerService) -> Catalogue:
    repo = make_repository(stack.api, owner, visibility="PUBLIC")
    fill(stack, owner, repo)
    pairs = [
        ("Product", "blue-shirt"),
        ("Product", "red-shirt"),
        ("Category", "shirts"),
        ("Collection", "summer"),
        ("Brand", "acme"),
    ]
    ids = {f"{k}/{n}": encode_resource_id(k, repo, n) for k, n in pairs}
    return Catalogue(repo, ids)
