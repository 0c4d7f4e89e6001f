"""A commit that changes a kind's definition or its hook module re-projects the stored files
of that kind — in the KV and in the commit status — although the files did not change; with
the real git service, the real KV, and the real hooks committed to the repository."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.keys import LIVE
from gitstore.git.client import GitClient
from gitstore.worker.prepared_cache import PreparedCache
from gitstore.worker.projector import Projector
from gitstore.worker.statuses import StatusRecorder
from tests.conversion.build import build_hooks
from tests.worker.harness import commit, encode, event_of, visible_draft
from tests.worker.test_publisher import publisher_on, request
from tests.worker.test_statuses_hub import offer_kind

PRICE = {"amount": "5.00", "currency": "EUR"}
MATRIX = [{"minQuantity": 1, "price": PRICE}]


def offer(name: str, version: str = "v1", **spec: Any) -> bytes:
    return encode(
        {
            "apiVersion": f"shop.example/{version}",
            "kind": "Offer",
            "metadata": {"name": name},
            "spec": {"title": name, **spec},
        }
    )


def kind(module: str, wasm: bytes, *, lenient_hub: bool = False) -> bytes:
    """The Offer kind (v1 spoke with ``price``, v2 hub with ``pricingMatrix``) whose hook is
    ``module`` with the sha256 of ``wasm``; ``lenient_hub``: the hub accepts any members."""
    definition = offer_kind(module, wasm)
    if lenient_hub:
        definition["spec"]["versions"][1]["schema"] = {"type": "object", "required": ["title"]}
    return encode(definition)


@pytest.fixture(scope="module")
def hooks() -> Path:
    return build_hooks()


@pytest.fixture
def wasm(hooks: Path) -> dict[str, bytes]:
    return {n: (hooks / f"{n}.wasm").read_bytes() for n in ("price", "loop", "identity")}


@pytest.fixture
async def projector(git: GitClient, kv: KvStore) -> AsyncIterator[Projector]:
    running = Projector(git, kv, owner="rekind", cache=PreparedCache(1 << 24))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
async def recorder(git: GitClient, kv: KvStore) -> AsyncIterator[StatusRecorder]:
    statuses = StatusRecorder(git, kv)
    try:
        yield statuses
    finally:
        statuses.close()


async def spec_of(kv: KvStore, repo: str, name: str) -> tuple[Any, str] | None:
    doc = await kv.get(await visible_draft(kv, repo), "offer", name)
    if doc is None:
        return None
    value = doc.value()
    return value["spec"], value["apiVersion"]


async def test_a_new_hook_gives_unchanged_spoke_files_their_new_hub_form(
    git: GitClient, kv: KvStore, repo: str, projector: Projector, wasm: dict[str, bytes]
) -> None:
    """The hub form of an unchanged v1 file follows the hook: identity first (the hub holds
    ``price``), then price.wasm (the hub holds ``pricingMatrix``) — and the prepared-file
    cache, which holds the first form, never answers for the second."""
    await commit(
        git,
        repo,
        {
            "hooks/identity.wasm": wasm["identity"],
            "hooks/price.wasm": wasm["price"],
            "kinds/offers.yaml": kind("hooks/identity.wasm", wasm["identity"], lenient_hub=True),
            "offers/a.yaml": offer("a", price=PRICE),
            "offers/h.yaml": offer("h", "v2", pricingMatrix=MATRIX),
        },
    )
    first = await projector.project(repo)
    assert not first.invalid, first.invalid
    assert await spec_of(kv, repo, "a") == ({"title": "a", "price": PRICE}, "shop.example/v2")

    changed = await commit(
        git, repo, {"kinds/offers.yaml": kind("hooks/price.wasm", wasm["price"], lenient_hub=True)}
    )
    second = await projector.project(repo)
    assert second.version == changed.commit_sha and not second.invalid, second.invalid
    assert await spec_of(kv, repo, "a") == (
        {"title": "a", "pricingMatrix": MATRIX},
        "shop.example/v2",
    )
    # the hub-written file is unchanged
    assert await spec_of(kv, repo, "h") == (
        {"title": "h", "pricingMatrix": MATRIX},
        "shop.example/v2",
    )
    assert any(path == "offers/a.yaml" for path, _ in second.checked)  # re-judged


async def test_a_fixed_definition_projects_the_files_its_old_hook_refused(
    git: GitClient,
    kv: KvStore,
    repo: str,
    projector: Projector,
    recorder: StatusRecorder,
    wasm: dict[str, bytes],
) -> None:
    done = await commit(
        git,
        repo,
        {
            "hooks/loop.wasm": wasm["loop"],
            "hooks/price.wasm": wasm["price"],
            "kinds/offers.yaml": kind("hooks/loop.wasm", wasm["loop"]),
            "offers/a.yaml": offer("a", price=PRICE),
            "offers/b.yaml": offer("b", price=PRICE),
        },
    )
    first = await projector.project(repo)
    assert {e.path for e in first.invalid} == {"offers/a.yaml", "offers/b.yaml"}
    assert await spec_of(kv, repo, "a") is None
    status = await recorder.record(event_of(repo, done))
    assert status is not None and status.state == "INVALID"

    fixed = await commit(git, repo, {"kinds/offers.yaml": kind("hooks/price.wasm", wasm["price"])})
    second = await projector.project(repo)
    assert not second.invalid, second.invalid
    for name in ("a", "b"):
        assert await spec_of(kv, repo, name) == (
            {"title": name, "pricingMatrix": MATRIX},
            "shop.example/v2",
        )
    status = await recorder.record(event_of(repo, fixed))
    assert status is not None and status.state == "VALID", status.errors


async def test_a_hook_that_now_fails_keeps_the_last_documents_and_its_status_names_them(
    git: GitClient,
    kv: KvStore,
    repo: str,
    projector: Projector,
    recorder: StatusRecorder,
    wasm: dict[str, bytes],
) -> None:
    """(Pushes and mutations refuse such a change, naming the resources: ``api.kinds``; a
    commit that arrives anyway is reported, and the KV keeps what it served.)"""
    await commit(
        git,
        repo,
        {
            "hooks/loop.wasm": wasm["loop"],
            "hooks/price.wasm": wasm["price"],
            "kinds/offers.yaml": kind("hooks/price.wasm", wasm["price"]),
            "offers/a.yaml": offer("a", price=PRICE),
        },
    )
    await projector.project(repo)
    before = await spec_of(kv, repo, "a")
    assert before is not None
    broken = await commit(git, repo, {"kinds/offers.yaml": kind("hooks/loop.wasm", wasm["loop"])})
    result = await projector.project(repo)
    [error] = result.invalid
    assert error.path == "offers/a.yaml" and error.rule == "conversion"
    assert "hooks/loop.wasm" in error.message
    assert await spec_of(kv, repo, "a") == before
    status = await recorder.record(event_of(repo, broken))
    assert status is not None and status.state == "INVALID"
    assert [e["path"] for e in status.errors] == ["offers/a.yaml"]


async def test_new_module_bytes_at_the_same_path_re_project_the_kind(
    git: GitClient,
    kv: KvStore,
    repo: str,
    projector: Projector,
    recorder: StatusRecorder,
    wasm: dict[str, bytes],
) -> None:
    """The definition names hooks/price.wasm by sha256; the commit holds other bytes there
    (refused), then the right ones: only the module file changes, and the files convert."""
    sha = hashlib.sha256(wasm["price"]).hexdigest()
    wrong = await commit(
        git,
        repo,
        {
            "hooks/price.wasm": wasm["loop"],
            "kinds/offers.yaml": kind("hooks/price.wasm", wasm["price"]),
            "offers/a.yaml": offer("a", price=PRICE),
        },
    )
    first = await projector.project(repo)
    [error] = first.invalid
    assert error.path == "offers/a.yaml" and "sha256" in error.message
    status = await recorder.record(event_of(repo, wrong))
    assert status is not None and status.state == "INVALID"

    right = await commit(git, repo, {"hooks/price.wasm": wasm["price"]})
    assert hashlib.sha256(wasm["price"]).hexdigest() == sha
    second = await projector.project(repo)
    assert not second.invalid, second.invalid
    assert await spec_of(kv, repo, "a") == (
        {"title": "a", "pricingMatrix": MATRIX},
        "shop.example/v2",
    )
    status = await recorder.record(event_of(repo, right))
    assert status is not None and status.state == "VALID", status.errors


async def test_a_release_that_changes_the_hook_re_converts_the_live_documents(
    git: GitClient, kv: KvStore, repo: str, wasm: dict[str, bytes]
) -> None:
    publisher, _ = publisher_on(git, kv, cache=PreparedCache(1 << 24))
    try:
        first = await commit(
            git,
            repo,
            {
                "hooks/identity.wasm": wasm["identity"],
                "hooks/price.wasm": wasm["price"],
                "kinds/offers.yaml": kind(
                    "hooks/identity.wasm", wasm["identity"], lenient_hub=True
                ),
                "offers/a.yaml": offer("a", price=PRICE),
            },
        )
        assert (await publisher.publish(request(repo, 1, first.commit_sha))).state == "PUBLISHED"
        live = await kv.get(await kv.resolve(repo, LIVE), "offer", "a")
        assert live is not None and live.value()["spec"] == {"title": "a", "price": PRICE}

        second = await commit(
            git,
            repo,
            {"kinds/offers.yaml": kind("hooks/price.wasm", wasm["price"], lenient_hub=True)},
        )
        outcome = await publisher.publish(request(repo, 2, second.commit_sha))
        assert outcome.state == "PUBLISHED" and "offer/a" in outcome.changed
        live = await kv.get(await kv.resolve(repo, LIVE), "offer", "a")
        assert live is not None and live.value()["spec"] == {"title": "a", "pricingMatrix": MATRIX}
    finally:
        publisher.projector.close()
