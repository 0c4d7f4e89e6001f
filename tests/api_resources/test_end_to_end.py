"""End to end: applyManifests commits a custom kind with a ``statusSchema`` and a resource
through the real git service, the real worker projects it and feeds the resource store, and a
controller writes status over GraphQL, validated against the kind's statusSchema."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack, running_worker, start_stack
from tests.catalog_writes.ops import APPLY, make_repository
from tests.support.graphql_ops import Person, error_of, execute, mutate, ok, person
from tests.support.kinds import brand, brand_kind

UPDATE = """
mutation($input: UpdateResourceStatusInput!) {
  updateResourceStatus(input: $input) {
    resource { resourceVersion status } userErrors { field message code }
  }
}"""
RESOURCES = """
query($repository: String!) {
  resources(repository: $repository, kind: "Brand") {
    resourceVersion items { name resourceVersion generation spec }
  }
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("resources-e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


def kind_with_status() -> dict[str, Any]:
    kind = brand_kind()
    kind["spec"]["versions"][0]["statusSchema"] = {
        "type": "object",
        "properties": {
            "stock": {"type": "integer", "x-gitstore-storefront": True},
            "note": {"type": "string"},
        },
    }
    return kind


def listing(stack: Stack, owner: Person, repo: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found: dict[str, Any] = execute(stack.api, RESOURCES, {"repository": repo}, owner.token)
        if found["resources"]["items"] or time.monotonic() > deadline:
            return found["resources"]
        time.sleep(0.05)


def test_commit_project_feed_and_validated_status(stack: Stack, worker: WorkerService) -> None:
    owner = person(stack.api)
    repo = make_repository(stack.api, owner)
    manifests = [{"manifest": m} for m in (kind_with_status(), brand("acme"))]
    written = mutate(
        stack.api,
        APPLY,
        {"repository": repo, "manifests": manifests, "waitForIndex": True, "indexTimeout": 30.0},
        owner.token,
    )
    ok(written)
    found = listing(stack, owner, repo)
    [acme] = found["items"]
    assert acme["name"] == "acme" and acme["spec"] == {"title": "Acme"}
    assert acme["generation"] == 1

    def update(version: str, status: Any) -> dict[str, Any]:
        return mutate(
            stack.api,
            UPDATE,
            {
                "repository": repo,
                "kind": "Brand",
                "name": "acme",
                "resourceVersion": version,
                "status": status,
            },
            owner.token,
        )

    bad = error_of(update(acme["resourceVersion"], {"stock": "many"}))
    assert bad["code"] == "INVALID_ARGUMENT" and "statusSchema" in bad["message"]
    assert "status.stock" in bad["message"]
    done = ok(update(acme["resourceVersion"], {"stock": 3, "note": "restocked"}))
    assert done["resource"]["status"] == {"stock": 3, "note": "restocked"}
    # the next version of the repository (its KindDefinition is a resource too)
    assert int(done["resource"]["resourceVersion"]) == int(found["resourceVersion"]) + 1
    # a spec change through Git keeps the status and bumps the generation
    ok(
        mutate(
            stack.api,
            APPLY,
            {
                "repository": repo,
                "manifests": [{"manifest": brand("acme", title="Acme Inc")}],
                "waitForIndex": True,
                "indexTimeout": 30.0,
            },
            owner.token,
        )
    )
    deadline = time.monotonic() + 30
    store = stack.api.services.resources()
    while True:
        got = stack.api.run(store.get(repo, "Brand", "acme"))
        if (got is not None and got.generation == 2) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got is not None and got.generation == 2
    assert got.spec == {"title": "Acme Inc"} and got.status == {"stock": 3, "note": "restocked"}
