"""Spoke → hub conversion end to end: a kind ``Offer`` serving v1 (``price``) and v2, the hub
(``pricingMatrix``), converted by the real ``price.wasm`` hook committed to the repository.
Writes through ``applyManifests`` in either version are accepted and the real worker stores
hub documents in the KV; a runaway hook refuses the write naming the file, kind, version and
hook, and the server keeps serving."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitstore.domain.projection import CommitStatus
from gitstore.git.client import GitClient
from gitstore.worker.service import WorkerService
from gitstore.worker.statuses import get_commit_status
from tests.conversion.build import build_hooks
from tests.worker.harness import commit, visible_draft

from .harness import Stack
from .ops import APPLY, Person, mutate, ok

PRICE = {"amount": "5.00", "currency": "EUR"}
MATRIX = [{"minQuantity": 1, "price": {"amount": "4.00", "currency": "EUR"}}]


def offer_kind(module: str, wasm: bytes) -> dict[str, Any]:
    def version(name: str, hub: bool, field: str, schema: Any) -> dict[str, Any]:
        return {
            "name": name,
            "served": True,
            "storage": hub,
            "schema": {"type": "object", "required": ["title", field],
                       "properties": {"title": {"type": "string"}, field: schema}},
        }  # fmt: skip

    money = {"type": "object", "required": ["amount", "currency"]}
    row = {"type": "object", "required": ["minQuantity", "price"],
           "properties": {"minQuantity": {"type": "integer", "minimum": 1}}}  # fmt: skip
    matrix = {"type": "array", "minItems": 1, "items": row}
    sha256 = hashlib.sha256(wasm).hexdigest()
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": "offers"},
        "spec": {
            "group": "shop.example",
            "names": {"kind": "Offer", "plural": "offers", "singular": "offer"},
            "versions": [
                version("v1", False, "price", money),
                version("v2", True, "pricingMatrix", matrix),
            ],
            "conversion": {"strategy": "Wasm", "wasm": {"module": module, "sha256": sha256}},
        },
    }


def offer(name: str, version: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"shop.example/{version}",
        "kind": "Offer",
        "metadata": {"name": name},
        "spec": {"title": name.title(), **spec},
    }


def apply(stack: Stack, owner: Person, repo: str, *manifests: Any, **extra: Any) -> Any:
    items = [{"manifest": m} for m in manifests]
    return mutate(stack.api, APPLY, {"repository": repo, "manifests": items, **extra}, owner.token)


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


@pytest.fixture(scope="module")
def worker(stack: Stack, git: GitClient) -> Iterator[WorkerService]:
    service = WorkerService(
        stack.settings, kv=stack.api.services.kv(), git=git, grace=1.0, pending_interval=0.5
    )
    stack.api.run(service.start())
    try:
        yield service
    finally:
        stack.api.run(service.stop())


def commit_hooks(stack: Stack, git: GitClient, repo: str, hooks: Path, *names: str) -> None:
    """The hook modules, committed as files ``hooks/<name>.wasm`` (binaries cannot go through
    ``applyManifests``)."""
    files = {f"hooks/{n}.wasm": (hooks / f"{n}.wasm").read_bytes() for n in names}
    stack.api.run(commit(git, repo, files, message="hooks"))


async def judged(stack: Stack, repo: str, sha: str) -> CommitStatus:
    """The commit status of ``sha`` once the worker recorded it (just after projecting)."""
    kv = stack.api.services.kv()
    for _ in range(300):
        status = await get_commit_status(kv, repo, sha)
        if status.state != "PENDING":
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"no status for {sha}")


def kv_document(stack: Stack, repo: str, name: str) -> Any:
    kv = stack.api.services.kv()

    async def read() -> Any:
        return await kv.get(await visible_draft(kv, repo), "offer", name)

    document = stack.api.run(read())
    assert document is not None, name
    return document.value()


def test_v1_and_v2_writes_are_accepted_and_stored_as_hub_documents(
    stack: Stack, owner: Person, repo: str, git: GitClient, worker: WorkerService, hooks: Path
) -> None:
    commit_hooks(stack, git, repo, hooks, "price")
    ok(
        apply(
            stack, owner, repo, offer_kind("hooks/price.wasm", (hooks / "price.wasm").read_bytes())
        )
    )
    written = ok(
        apply(
            stack,
            owner,
            repo,
            offer("spoke", "v1", price=PRICE),
            offer("hub", "v2", pricingMatrix=MATRIX),
            waitForIndex=True,
            indexTimeout=30.0,
        )
    )
    assert written["indexing"]["state"] == "INDEXED"
    [path] = [c["path"] for c in written["changes"] if c["name"] == "spoke"]
    # Git keeps each file as written
    assert b"apiVersion: shop.example/v1" in stack.git_show(repo, path)
    spoke, hub = kv_document(stack, repo, "spoke"), kv_document(stack, repo, "hub")
    assert spoke["apiVersion"] == hub["apiVersion"] == "shop.example/v2"
    assert spoke["spec"] == {
        "title": "Spoke",
        "pricingMatrix": [{"minQuantity": 1, "price": PRICE}],
    }
    assert hub["spec"] == {"title": "Hub", "pricingMatrix": MATRIX}
    status = stack.api.run(judged(stack, repo, written["commit"]))
    assert status.state == "VALID", status.errors


def test_a_runaway_hook_refuses_the_write_and_the_server_stays_healthy(
    stack: Stack, owner: Person, repo: str, git: GitClient, hooks: Path
) -> None:
    commit_hooks(stack, git, repo, hooks, "loop", "price")
    # no examples: the definition is accepted (nothing to round-trip); writes run the hook
    ok(apply(stack, owner, repo, offer_kind("hooks/loop.wasm", (hooks / "loop.wasm").read_bytes())))
    before = stack.commit_count(repo)
    result = apply(stack, owner, repo, offer("a", "v1", price=PRICE), offer("b", "v1", price=PRICE))
    assert not result["committed"]
    assert stack.commit_count(repo) == before
    errors = result["userErrors"]
    assert len(errors) == 2, errors  # every file of the group, never half
    message = errors[0]["message"]
    assert "Offer shop.example/v1 could not be converted to the hub shop.example/v2" in message
    assert "conversion hook hooks/loop.wasm of kind Offer (to-hub v1 -> v2)" in message
    assert "fuel" in message
    # the server is healthy: a hub write needs no hook, and a fixed definition converts
    ok(apply(stack, owner, repo, offer("c", "v2", pricingMatrix=MATRIX)))
    price = (hooks / "price.wasm").read_bytes()
    ok(
        apply(
            stack, owner, repo, offer_kind("hooks/price.wasm", price), offer("a", "v1", price=PRICE)
        )
    )
