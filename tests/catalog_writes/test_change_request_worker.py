"""A change request written through the API (``upsertProduct(branch:)``), merged on the
server, and projected by the real worker: the merge's ref update takes the normal path (git
service outbox -> queue -> worker -> KV), so storefront reads of the default branch show the
merged resource at the merge commit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import running_worker

from .harness import Stack
from .ops import APPLY, Person, execute, mutate, ok, product_spec, upsert_product

READ = """
query($repo: String!, $name: String!) {
  catalog(repository: $repo, channel: DRAFT) { version product(name: $name) { title version } }
}"""
CREATE = """mutation($input: CreateChangeRequestInput!) {
  createChangeRequest(input: $input) { changeRequest { id headSha } userErrors { code message } }
}"""
MERGE = """mutation($input: MergeChangeRequestInput!) {
  mergeChangeRequest(input: $input) { mergeSha userErrors { code message } }
}"""


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


def read_until(stack: Stack, owner: Person, repo: str, name: str, version: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        found = execute(stack.api, READ, {"repo": repo, "name": name}, owner.token)["catalog"]
        if found["version"] == version or time.monotonic() > deadline:
            assert isinstance(found, dict)
            return found
        time.sleep(0.2)


def test_a_merged_change_request_is_projected(
    stack: Stack, owner: Person, repo: str, worker: WorkerService
) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p", waitForIndex=True, indexTimeout=30.0))
    proposed = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": "p"},
        "spec": product_spec(title="Proposed"),
    }
    branch = ok(
        mutate(
            stack.api,
            APPLY,
            {"repository": repo, "manifests": [{"manifest": proposed}], "branch": "fix"},
            owner.token,
        )
    )
    ok(upsert_product(stack.api, owner.token, repo, "q"))  # main moves on: a real merge
    cr = ok(
        mutate(
            stack.api,
            CREATE,
            {"repository": repo, "sourceBranch": "fix", "title": "Better title"},
            owner.token,
        )
    )["changeRequest"]
    assert cr["headSha"] == branch["commit"]
    merged = ok(
        mutate(
            stack.api,
            MERGE,
            {"id": cr["id"], "expectedHeadSha": cr["headSha"], "strategy": "MERGE"},
            owner.token,
        )
    )["mergeSha"]
    assert stack.git_head(repo) == merged
    read = read_until(stack, owner, repo, "p", merged)
    assert read["version"] == merged
    assert read["product"]["title"] == "Proposed"
    assert read_until(stack, owner, repo, "q", merged)["product"] is not None
