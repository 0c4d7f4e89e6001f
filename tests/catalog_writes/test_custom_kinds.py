"""Custom kinds through applyManifests: the registry of the head the write is planned on,
plus the request's own KindDefinitions; projected by the real worker with the kinds of the
commit it projects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gitstore.domain.content.kindset import registry_for
from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import running_worker
from tests.support.kinds import brand, brand_kind
from tests.worker.harness import visible_draft

from .harness import Stack
from .ops import APPLY, HISTORY, Person, execute, fan, mutate, ok


def apply(stack: Stack, owner: Person, repo: str, *manifests: Any, **extra: Any) -> Any:
    items = [{"manifest": m} for m in manifests]
    return mutate(stack.api, APPLY, {"repository": repo, "manifests": items, **extra}, owner.token)


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


def test_a_kind_and_its_resources_in_one_commit_are_projected(
    stack: Stack, owner: Person, repo: str, worker: WorkerService
) -> None:
    written = ok(
        apply(
            stack,
            owner,
            repo,
            brand_kind(),
            brand("acme"),
            waitForIndex=True,
            indexTimeout=30.0,
        )
    )
    assert written["indexing"]["state"] == "INDEXED"
    assert sorted(c["path"] for c in written["changes"]) == [
        fan("brands/acme.yaml"),
        fan("kinds/brands.yaml"),
    ]
    kv = stack.api.services.kv()

    async def read() -> Any:
        scope = await visible_draft(kv, repo)
        return await kv.get(scope, "brand", "acme")

    document = stack.api.run(read())
    assert document is not None
    assert document.value()["spec"] == {"title": "Acme"}
    # a later write of brands alone uses the head's kinds
    ok(apply(stack, owner, repo, brand("zeta")))


def test_a_resource_of_an_undefined_kind_is_refused(stack: Stack, owner: Person, repo: str) -> None:
    result = apply(stack, owner, repo, brand("acme"))
    [error] = result["userErrors"]
    assert error["message"].startswith("kind: unknown kind 'Brand'"), error
    assert not result["committed"]


def test_an_invalid_definition_is_refused(stack: Stack, owner: Person, repo: str) -> None:
    bad = brand_kind()
    bad["spec"]["names"]["plural"] = "products"
    bad["metadata"]["name"] = "products"
    bad["spec"]["names"]["singular"] = "product"
    result = apply(stack, owner, repo, bad)
    assert not result["committed"]
    assert any("already used by kind Product" in e["message"] for e in result["userErrors"])


def test_a_definition_change_that_invalidates_stored_resources_is_refused(
    stack: Stack, owner: Person, repo: str
) -> None:
    ok(apply(stack, owner, repo, brand_kind(), brand("acme"), brand("zeta")))
    result = apply(stack, owner, repo, brand_kind(required=("title", "country")))
    assert not result["committed"]
    [error] = result["userErrors"]
    acme, zeta = fan("brands/acme.yaml"), fan("brands/zeta.yaml")
    assert f"2 resources ({acme}, {zeta}) invalid" in error["message"]
    # migrating them in the same request is accepted
    ok(
        apply(
            stack,
            owner,
            repo,
            brand_kind(required=("title", "country")),
            brand("acme", title="Acme", country="NL"),
            brand("zeta", title="Zeta", country="DE"),
        )
    )


def test_history_of_a_custom_kind(stack: Stack, owner: Person, repo: str) -> None:
    created = ok(apply(stack, owner, repo, brand_kind(), brand("acme")))["commit"]
    edited = ok(apply(stack, owner, repo, brand("acme", title="Acme Corp")))["commit"]
    for kind in ("Brand", "brand"):  # case-insensitive, like the built-in kinds
        entries = execute(
            stack.api, HISTORY, {"repository": repo, "kind": kind, "name": "acme"}, owner.token
        )["resourceHistory"]
        assert [e["commit"] for e in entries] == [edited, created]
        assert [e["changeType"] for e in entries] == ["MODIFIED", "ADDED"]
        assert entries[0]["path"] == fan("brands/acme.yaml")
        assert entries[0]["diff"] == [
            {"path": "spec.title", "op": "CHANGED", "old": "Acme", "new": "Acme Corp"}
        ]
    # a kind the repository does not define is still a clear error naming the known ones
    response = stack.api.graphql(
        HISTORY, {"repository": repo, "kind": "Widget", "name": "acme"}, token=owner.token
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert "'Widget'" in error["message"] and "Brand" in error["message"]


def test_registry_for_without_definitions_is_the_shared_builtin_registry() -> None:
    assert registry_for([]).registry is registry_for([]).registry
