"""Shadow re-indexing (``worker.shadow``) with the real git service and SQLite / Redis KV.

Each test drives the re-index through ``EventHandler.handle`` with ``ReindexEvent``s, as the
worker's consumer does, and reads the result the way storefronts do (the aliases).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from gitstore.backends.kv import ApplyResult, Batch, KvStore
from gitstore.backends.kv.base import MAX_PAGE_SIZE
from gitstore.domain.events import ReindexEvent
from gitstore.domain.keys import LIVE, ChannelScope
from gitstore.domain.projection import DRAFT_VIEW, draft_view
from gitstore.git.client import GitClient
from gitstore.worker import parsing
from gitstore.worker.handler import EventHandler
from gitstore.worker.projector import Projector
from gitstore.worker.publisher import Publisher
from gitstore.worker.shadow import (
    ABANDONED,
    SWITCHED,
    reindex_scope,
)
from gitstore.worker.statuses import StatusRecorder
from tests.test_kv_contract import _open
from tests.worker.harness import FaultyKv, commit, files_of, product
from tests.worker.test_publisher import request

BATCH = 10
N = 25  # products: several chunks of BATCH


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[KvStore]:
    async with _open(request.param, tmp_path) as opened:
        yield opened


def catalogue(n: int, title: str) -> dict[str, bytes]:
    return files_of(
        *(product(f"p{i:03d}", title=f"{title} {i}", categories=["all"]) for i in range(n))
    )


def handler(git: GitClient, kv: KvStore, owner: str = "w1", **kw: Any) -> EventHandler:
    projector = Projector(git, kv, owner=owner, batch_size=BATCH, **kw)
    return EventHandler(projector, StatusRecorder(git, kv), Publisher(projector))


def event(repo: str, rid: str, action: str = "START", **kw: Any) -> ReindexEvent:
    return ReindexEvent(f"e-{rid}-{action}", repo, rid, action, **kw)


async def snapshot(kv: KvStore, scope: ChannelScope) -> dict[str, bytes]:
    page = await kv.list_documents(scope, "product", first=MAX_PAGE_SIZE)
    return {d.name: d.body for d in page.items}


async def by_category(kv: KvStore, scope: ChannelScope, value: str, index: str) -> int:
    return (await kv.lookup(scope, "product", index, value, first=MAX_PAGE_SIZE)).total_count


async def state(kv: KvStore, repo: str) -> Mapping[str, Any]:
    doc = await kv.get(reindex_scope(repo), "reindex", "state")
    assert doc is not None
    return doc.value()


async def shadows_gone(kv: KvStore, repo: str) -> None:
    for channel in ("shadow-draft", "shadow-live"):
        assert await kv.head(ChannelScope(repo, channel)) is None, channel
        assert await snapshot(kv, ChannelScope(repo, channel)) == {}


async def setup(git: GitClient, kv: KvStore, repo: str) -> tuple[EventHandler, str]:
    h = handler(git, kv)
    first = await commit(git, repo, catalogue(N, "v1"))
    await h.projector.project(repo)
    await h.handle(request(repo, 1, first.commit_sha))  # a release: the live view too
    return h, first.commit_sha


def with_extra_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """A projection change: products get a new index ``initial`` (first letter of the name)."""
    original = parsing.document_indexes

    def indexes(kind: str, name: str, spec: Mapping[str, Any]) -> dict[str, list[str]]:
        out = dict(original(kind, name, spec))
        if kind == "Product":
            out["initial"] = [name[0]]
        return out

    monkeypatch.setattr(parsing, "document_indexes", indexes)


async def test_an_unchanged_repository_compares_equal_and_switches(
    git: GitClient, store: KvStore, repo: str
) -> None:
    h, sha = await setup(git, store, repo)
    draft_before = draft_view(await store.resolve(repo, DRAFT_VIEW))
    live_before = await store.resolve(repo, LIVE)
    docs = await snapshot(store, draft_before)
    assert len(docs) == N

    assert await h.handle(event(repo, "r1")) == "reindex-switched"
    value = await state(store, repo)
    assert value["state"] == SWITCHED
    for view in ("draft", "live"):
        comparison = value["views"][view]["comparison"]
        assert comparison["equal"], comparison
        assert comparison["counts"]["product"] == {"live": N, "shadow": N}
        assert value["views"][view]["commit"] == sha
    draft_after = draft_view(await store.resolve(repo, DRAFT_VIEW))
    live_after = await store.resolve(repo, LIVE)
    assert draft_after != draft_before and live_after != live_before  # switched buffers
    assert await snapshot(store, draft_after) == docs
    assert await snapshot(store, live_after) == docs
    for scope in (draft_after, live_after):
        head = await store.head(scope)
        assert head is not None and head.version == sha
    await shadows_gone(store, repo)
    # A redelivery changes nothing; the draft keeps projecting into the new buffers.
    assert await h.handle(event(repo, "r1")) == "reindex-switched"
    second = await commit(git, repo, catalogue(N + 3, "v2"))
    await h.projector.project(repo)
    head = await store.head(draft_view(await store.resolve(repo, DRAFT_VIEW)))
    assert head is not None and head.version == second.commit_sha


async def test_a_projection_change_needs_acceptance_before_switching(
    git: GitClient, store: KvStore, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, sha = await setup(git, store, repo)
    visible = draft_view(await store.resolve(repo, DRAFT_VIEW))
    with_extra_index(monkeypatch)
    h = handler(git, store)  # "the upgraded worker"

    assert await h.handle(event(repo, "r2")) == "reindex-different"
    value = await state(store, repo)
    comparison = value["views"]["draft"]["comparison"]
    assert not comparison["equal"]
    assert comparison["indexes"]["product.initial"] == {"live": 0, "shadow": N}
    assert comparison["counts"]["product"] == {"live": N, "shadow": N}
    assert comparison["differing"] == N
    sample = comparison["sample"][0]
    assert sample["change"] == "changed" and sample["indexes"]["initial"]["shadow"] == ["p"]
    # Not switched: readers see the old buffer, without the new index.
    assert draft_view(await store.resolve(repo, DRAFT_VIEW)) == visible
    assert await by_category(store, visible, "p", "initial") == 0
    assert await store.head(ChannelScope(repo, "shadow-draft")) is not None
    # Another start is refused while this one waits.
    assert await h.handle(event(repo, "other")) == "reindex-busy"
    assert (await state(store, repo))["id"] == "r2"

    assert await h.handle(event(repo, "r2", "ACCEPT")) == "reindex-switched"
    for alias in (DRAFT_VIEW, LIVE):
        scope = await store.resolve(repo, alias)
        scope = draft_view(scope) if alias == DRAFT_VIEW else scope
        assert await by_category(store, scope, "p", "initial") == N, alias
        head = await store.head(scope)
        assert head is not None and head.version == sha
    await shadows_gone(store, repo)


async def test_abandon_leaves_live_untouched_and_cleans_up(
    git: GitClient, store: KvStore, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, _ = await setup(git, store, repo)
    visible = draft_view(await store.resolve(repo, DRAFT_VIEW))
    live = await store.resolve(repo, LIVE)
    before = (await snapshot(store, visible), await snapshot(store, live))
    heads = (await store.head(visible), await store.head(live))
    with_extra_index(monkeypatch)
    h = handler(git, store)
    assert await h.handle(event(repo, "r3")) == "reindex-different"
    assert await h.handle(event(repo, "r3", "ABANDON")) == "reindex-abandoned"
    assert (await state(store, repo))["state"] == ABANDONED
    assert draft_view(await store.resolve(repo, DRAFT_VIEW)) == visible
    assert await store.resolve(repo, LIVE) == live
    assert (await snapshot(store, visible), await snapshot(store, live)) == before
    assert (await store.head(visible), await store.head(live)) == heads
    await shadows_gone(store, repo)
    # an accept after the abandon does nothing; a new re-index may start
    assert await h.handle(event(repo, "r3", "ACCEPT")) == "reindex-abandoned"
    assert await h.handle(event(repo, "r4", accept_differences=True)) == "reindex-switched"


class CommitDuringShadow(FaultyKv):
    """When the shadow build writes its first batch, a commit lands and is projected."""

    def __init__(self, inner: KvStore, git: GitClient, repo: str) -> None:
        super().__init__(inner)
        self.git, self.repo = git, repo
        self.landed: str | None = None

    async def apply(self, batch: Batch) -> ApplyResult:
        if batch.scope.channel == "shadow-draft" and self.landed is None:
            done = await commit(self.git, self.repo, catalogue(N + 5, "v3"))
            self.landed = done.commit_sha
            await Projector(self.git, self.inner, owner="other", batch_size=BATCH).project(
                self.repo
            )
        return await super().apply(batch)


async def test_a_write_during_the_shadow_build_is_not_lost(
    git: GitClient, store: KvStore, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup(git, store, repo)
    with_extra_index(monkeypatch)
    racing = CommitDuringShadow(store, git, repo)
    h = handler(git, racing)
    assert await h.handle(event(repo, "r5", accept_differences=True)) == "reindex-switched"
    assert racing.landed is not None
    value = await state(store, repo)
    assert value["views"]["draft"]["commit"] == racing.landed  # caught up before switching
    scope = draft_view(await store.resolve(repo, DRAFT_VIEW))
    head = await store.head(scope)
    assert head is not None and head.version == racing.landed
    docs = await snapshot(store, scope)
    assert len(docs) == N + 5 and all(b"v3" in body for body in docs.values())
    assert await by_category(store, scope, "p", "initial") == N + 5


async def test_a_crashed_shadow_build_is_resumed(
    git: GitClient, store: KvStore, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, sha = await setup(git, store, repo)
    visible = draft_view(await store.resolve(repo, DRAFT_VIEW))
    with_extra_index(monkeypatch)
    crashing = FaultyKv(store, fail_at=4)  # the state write, the claim, a chunk, then dies
    with pytest.raises(RuntimeError, match="injected crash"):
        await handler(git, crashing, owner="dead").handle(
            event(repo, "r6", accept_differences=True)
        )
    assert draft_view(await store.resolve(repo, DRAFT_VIEW)) == visible
    assert await by_category(store, visible, "p", "initial") == 0
    # the redelivered event, on another worker: takes the stale claim over and finishes
    again = handler(git, store, owner="w2", claim_stale_seconds=0.0)
    assert await again.handle(event(repo, "r6", accept_differences=True)) == "reindex-switched"
    scope = draft_view(await store.resolve(repo, DRAFT_VIEW))
    assert await by_category(store, scope, "p", "initial") == N
    head = await store.head(scope)
    assert head is not None and head.version == sha
    await shadows_gone(store, repo)


class AbandonDuringShadow(FaultyKv):
    """When the shadow build writes its first batch, another worker handles the ABANDON."""

    def __init__(self, inner: KvStore, git: GitClient, repo: str) -> None:
        super().__init__(inner)
        self.git, self.repo = git, repo
        self.answer: str | None = None

    async def apply(self, batch: Batch) -> ApplyResult:
        if batch.scope.channel == "shadow-draft" and self.answer is None:
            self.answer = "pending"
            other = handler(self.git, self.inner, owner="other")
            self.answer = await other.handle(event(self.repo, "r7", "ABANDON"))
        return await super().apply(batch)


async def test_an_abandon_during_the_build_stops_it(
    git: GitClient, store: KvStore, repo: str
) -> None:
    await setup(git, store, repo)
    visible = draft_view(await store.resolve(repo, DRAFT_VIEW))
    before = (await snapshot(store, visible), await store.head(visible))
    racing = AbandonDuringShadow(store, git, repo)
    assert await handler(git, racing).handle(event(repo, "r7")) == "reindex-abandoned"
    assert racing.answer == "reindex-abandoned"
    assert (await state(store, repo))["state"] == ABANDONED
    assert draft_view(await store.resolve(repo, DRAFT_VIEW)) == visible
    assert (await snapshot(store, visible), await store.head(visible)) == before
    await shadows_gone(store, repo)
