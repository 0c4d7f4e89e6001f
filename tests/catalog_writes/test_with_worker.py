"""Read-your-writes with the real projection worker: mutation -> commit -> event -> worker ->
KV -> storefront read, all in one stack (git service, API, worker; SQLite queue and KV)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import running_worker

from .harness import Stack
from .ops import DELETE_PRODUCT, Person, execute, mutate, ok, product_spec, upsert_product

READ = """
query($repo: String!, $name: String!) {
  catalog(repository: $repo, channel: DRAFT) { version product(name: $name) { title version } }
}"""


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


def test_wait_for_index_makes_the_write_readable(
    stack: Stack, owner: Person, repo: str, worker: WorkerService
) -> None:
    written = ok(
        upsert_product(stack.api, owner.token, repo, "p", waitForIndex=True, indexTimeout=30.0)
    )
    commit = written["commit"]
    assert written["indexing"] == {"repository": repo, "commit": commit, "state": "INDEXED"}
    read = execute(stack.api, READ, {"repo": repo, "name": "p"}, owner.token)["catalog"]
    assert read["version"] == commit
    assert read["product"] == {"title": "Blue Shirt", "version": commit}
    # the version a read returns is a valid expectedVersion
    edited = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "p",
            spec=product_spec(title="Edited"),
            expectedVersion=read["product"]["version"],
            waitForIndex=True,
            indexTimeout=30.0,
        )
    )
    assert edited["indexing"]["state"] == "INDEXED"
    read = execute(stack.api, READ, {"repo": repo, "name": "p"}, owner.token)["catalog"]
    assert read["product"]["title"] == "Edited"
    gone = ok(
        mutate(
            stack.api,
            DELETE_PRODUCT,
            {"repository": repo, "name": "p", "waitForIndex": True, "indexTimeout": 30.0},
            owner.token,
        )
    )
    assert gone["indexing"]["state"] == "INDEXED"
    assert (
        execute(stack.api, READ, {"repo": repo, "name": "p"}, owner.token)["catalog"]["product"]
        is None
    )
