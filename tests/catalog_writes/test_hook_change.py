"""A definition change through ``applyManifests`` that would leave stored resources written in
a spoke version unconvertible is refused, naming them; migrating them in the same mutation,
or a compatible change, is accepted (``domain.kindchange.stored_hub_errors``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitstore.git.client import GitClient
from tests.conversion.build import build_hooks

from .harness import Stack
from .ops import Person, ok
from .test_hub_conversion import MATRIX, PRICE, apply, commit_hooks, offer, offer_kind


@pytest.fixture(scope="module")
def hooks() -> Path:
    return build_hooks()


@pytest.fixture(scope="module")
def git(stack: Stack) -> Iterator[GitClient]:
    async def client() -> GitClient:
        return GitClient(f"127.0.0.1:{stack.git.port}", timeout=30)

    client_ = stack.api.run(client())
    try:
        yield client_
    finally:
        stack.api.run(client_.close())


def test_a_hook_change_that_strands_stored_v1_offers_is_refused_naming_them(
    stack: Stack, owner: Person, repo: str, git: GitClient, hooks: Path
) -> None:
    commit_hooks(stack, git, repo, hooks, "price", "loop")
    price, loop = (hooks / "price.wasm").read_bytes(), (hooks / "loop.wasm").read_bytes()
    ok(apply(stack, owner, repo, offer_kind("hooks/price.wasm", price)))
    ok(apply(stack, owner, repo, offer("a", "v1", price=PRICE), offer("b", "v1", price=PRICE)))
    ok(apply(stack, owner, repo, offer("c", "v2", pricingMatrix=MATRIX)))
    before = stack.commit_count(repo)

    result = apply(stack, owner, repo, offer_kind("hooks/loop.wasm", loop))
    assert not result["committed"] and stack.commit_count(repo) == before
    [error] = result["userErrors"]
    message = error["message"]
    assert "with the new definition of kind Offer (hook hooks/loop.wasm" in message
    assert "2 resources (" in message and "a.yaml" in message and "b.yaml" in message
    assert "ran out of fuel" in message  # the first failure, with the hook's reason

    # migrating the stored v1 offers to the hub version in the same change is accepted
    ok(
        apply(
            stack,
            owner,
            repo,
            offer_kind("hooks/loop.wasm", loop),
            offer("a", "v2", pricingMatrix=MATRIX),
            offer("b", "v2", pricingMatrix=MATRIX),
        )
    )
    assert stack.commit_count(repo) == before + 1
