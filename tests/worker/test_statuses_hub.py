"""Commit statuses judge files written in a spoke version after conversion to the hub, with
the real ``price.wasm``/``loop.wasm`` hooks committed to the repository."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.projection import CommitStatus
from gitstore.git.client import GitClient
from gitstore.worker.statuses import StatusRecorder
from tests.conversion.build import build_hooks
from tests.worker.harness import commit, encode, event_of

PRICE = {"amount": "5.00", "currency": "EUR"}


def offer_kind(module: str, wasm: bytes) -> dict[str, Any]:
    # v1 does not require a price, the hub requires a matrix: a v1 offer without a price is
    # valid as written and invalid as its hub form
    title = {"title": {"type": "string"}}
    v1 = {"type": "object", "required": ["title"], "properties": {**title, "price": {}}}
    v2 = {
        "type": "object",
        "required": ["title", "pricingMatrix"],
        "properties": {**title, "pricingMatrix": {"type": "array"}},
    }
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": "offers"},
        "spec": {
            "group": "shop.example",
            "names": {"kind": "Offer", "plural": "offers", "singular": "offer"},
            "versions": [
                {"name": "v1", "served": True, "storage": False, "schema": v1},
                {"name": "v2", "served": True, "storage": True, "schema": v2},
            ],
            "conversion": {
                "strategy": "Wasm",
                "wasm": {"module": module, "sha256": hashlib.sha256(wasm).hexdigest()},
            },
        },
    }


def offer(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "shop.example/v1",
        "kind": "Offer",
        "metadata": {"name": name},
        "spec": {"title": name, **spec},
    }


@pytest.fixture(scope="module")
def hooks() -> Path:
    return build_hooks()


@pytest.fixture
async def recorder(git: GitClient, kv: KvStore) -> AsyncIterator[StatusRecorder]:
    statuses = StatusRecorder(git, kv)
    try:
        yield statuses
    finally:
        statuses.close()


async def judge(
    git: GitClient, repo: str, recorder: StatusRecorder, hooks: Path, hook: str, **offers: Any
) -> CommitStatus:
    """One commit with the hook module, the kind and ``offers`` (name -> spec), judged from
    scratch (nothing from a projection)."""
    wasm = (hooks / f"{hook}.wasm").read_bytes()
    files = {
        f"hooks/{hook}.wasm": wasm,
        "kinds/offers.yaml": encode(offer_kind(f"hooks/{hook}.wasm", wasm)),
    }
    files |= {f"offers/{name}.yaml": encode(offer(name, **spec)) for name, spec in offers.items()}
    done = await commit(git, repo, files)
    status = await recorder.record(event_of(repo, done))
    assert status is not None
    return status


async def test_a_v1_offer_that_converts_to_a_valid_hub_is_valid(
    git: GitClient, repo: str, recorder: StatusRecorder, hooks: Path
) -> None:
    status = await judge(git, repo, recorder, hooks, "price", a={"price": PRICE})
    assert status.state == "VALID", status.errors


async def test_a_v1_offer_whose_hub_form_is_invalid_is_invalid(
    git: GitClient, repo: str, recorder: StatusRecorder, hooks: Path
) -> None:
    status = await judge(git, repo, recorder, hooks, "price", a={"price": PRICE}, b={})
    assert status.state == "INVALID"
    [error] = status.errors
    assert error["path"] == "offers/b.yaml"
    assert "pricingMatrix" in error["message"]
    assert "after conversion from shop.example/v1 to the hub" in error["message"]


async def test_a_v1_offer_whose_hook_fails_is_invalid_with_rule_conversion(
    git: GitClient, repo: str, recorder: StatusRecorder, hooks: Path
) -> None:
    status = await judge(git, repo, recorder, hooks, "loop", a={"price": PRICE})
    assert status.state == "INVALID"
    [error] = status.errors
    assert error["path"] == "offers/a.yaml" and error["rule"] == "conversion"
    assert "conversion hook hooks/loop.wasm of kind Offer (to-hub v1 -> v2)" in error["message"]
