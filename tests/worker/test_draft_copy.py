"""The standby draft buffer filled by a KV copy of the visible one (``worker/draft_copy.py``),
on the SQLite KV and on the real Redis server: a large commit costs its own changes plus a
copy, a crash mid-copy leaves readers on the previous commit and the copy is redone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.kv.base import CopyStep
from gitstore.backends.kv.redis import RedisKvStore
from gitstore.config import Settings
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import NO_VERSION, draft_scope
from gitstore.git.client import GitClient
from gitstore.worker.claims import read_claim
from gitstore.worker.prepared_cache import PreparedCache
from gitstore.worker.projector import Projector, Target
from tests.servers import REDIS_URL, require_server
from tests.worker.harness import (
    FaultyKv,
    assert_kv_matches_head,
    commit,
    files_of,
    kv_documents,
    product,
    visible_draft,
)

SIZE = 60  # products of the catalogue
BATCH = 10  # batch_size: a commit of more than 10 changes needs the standby
DRAFT_B = ChannelScope("acme/catalog", "draft-b")


def catalogue(names: range, *, title: str = "") -> dict[str, bytes]:
    return files_of(
        *(
            product(f"p{i:03d}", title=f"{title}p{i}" if title else None, categories=["all"])
            for i in names
        )
    )


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[KvStore]:
    if request.param == "sqlite":
        kv = await open_kv_store(settings.kv_url())
    else:
        prefix = f"gitstore-test-{uuid.uuid4().hex}:"
        kv = await open_kv_store(f"{require_server(REDIS_URL, 'Redis')}?prefix={prefix}")
    try:
        yield kv
    finally:
        if isinstance(kv, RedisKvStore):
            keys = [k async for k in kv.client.scan_iter(match=f"{kv.prefix}*", count=1000)]
            for start in range(0, len(keys), 1000):
                await kv.client.delete(*keys[start : start + 1000])
        await kv.close()


async def big_catalogue(git: GitClient, kv: KvStore, repo: str) -> str:
    """SIZE products projected (a large first projection: readers see ``draft-b``)."""
    first = await commit(git, repo, catalogue(range(SIZE)))
    result = await Projector(git, kv, owner="setup", batch_size=BATCH).project(repo)
    assert result.switched and await visible_draft(kv, repo) == DRAFT_B
    assert await kv.head(draft_scope(repo)) is None  # the standby is empty
    return first.commit_sha


async def test_the_first_large_commit_copies_the_visible_buffer_and_projects_only_its_changes(
    git: GitClient, store: KvStore, repo: str
) -> None:
    await big_catalogue(git, store, repo)
    await commit(git, repo, catalogue(range(15), title="v2 "))  # 15 changes: too large
    counting = FaultyKv(store)

    result = await Projector(git, counting, owner="w1", batch_size=BATCH).project(repo)

    assert result.switched and result.channel == "draft"
    assert result.copied == SIZE and counting.copied == SIZE  # a copy of every document...
    assert counting.copies > SIZE // BATCH  # ... in chunks of batch_size
    assert result.upserts == 15  # ... and only the commit's own changes projected from Git
    await assert_kv_matches_head(store, git, repo)

    # The next large commit over the same products: the standby (draft-b, one commit
    # behind) catches up by diffs, no copy.
    await commit(git, repo, catalogue(range(15), title="v3 "))
    counting = FaultyKv(store)
    result = await Projector(git, counting, owner="w1", batch_size=BATCH).project(repo)
    assert result.switched and result.channel == "draft-b"
    assert result.copied == 0 and counting.copies == 0 and result.upserts == 15
    await assert_kv_matches_head(store, git, repo)

    # Other products this time: catching up draft (v2 of 0-14) would rewrite 15 products
    # more than the commit's own 15, more than a batch: copied again.
    await commit(git, repo, catalogue(range(30, 45), title="v4 "))
    result = await Projector(git, store, owner="w1", batch_size=BATCH).project(repo)
    assert result.switched and result.channel == "draft"
    assert result.copied == SIZE and result.upserts == 15
    await assert_kv_matches_head(store, git, repo)


async def test_a_crash_mid_copy_leaves_readers_on_the_previous_commit_and_is_redone(
    git: GitClient, store: KvStore, repo: str
) -> None:
    first = await big_catalogue(git, store, repo)
    await commit(git, repo, catalogue(range(20), title="v2 "), deletes=["products/p059.yaml"])
    crashing = FaultyKv(store, fail_copy_at=4)  # a clear step, two copy steps, then dies
    with pytest.raises(RuntimeError, match="injected crash"):
        await Projector(git, crashing, owner="dead", batch_size=BATCH).project(repo)

    # Readers: still the first commit, whole.
    assert await visible_draft(store, repo) == DRAFT_B
    shown = await store.head(DRAFT_B)
    assert shown is not None and shown.version == first
    assert len(await kv_documents(store, DRAFT_B)) == SIZE
    # The standby: part of a copy, hidden, under a copying claim.
    standby = draft_scope(repo)
    assert 0 < crashing.copied < SIZE
    assert len(await kv_documents(store, standby)) == crashing.copied
    head = await store.head(standby)
    assert head is not None and head.version == NO_VERSION
    claim = await read_claim(store, standby)
    assert claim is not None and claim.copying and claim.owner == "dead"

    # The next round (another worker, once the claim is stale) redoes the copy and finishes.
    counting = FaultyKv(store)
    result = await Projector(
        git, counting, owner="w1", batch_size=BATCH, claim_stale_seconds=0.05
    ).project(repo)

    assert result.switched and result.channel == "draft"
    assert result.copied == SIZE and counting.copied == SIZE
    assert result.upserts == 20 and result.deletes == 1
    await assert_kv_matches_head(store, git, repo)


async def test_a_live_copy_of_another_worker_is_waited_for(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await big_catalogue(git, kv, repo)
    await commit(git, repo, catalogue(range(15), title="v2 "))
    # The other worker stalls after claiming the standby (its first apply) for a copy.
    stalled = FaultyKv(kv, block_at=2)
    other = Projector(git, stalled, owner="other", batch_size=BATCH)
    task = asyncio.ensure_future(other.project(repo))
    await asyncio.wait_for(stalled.blocked.wait(), 30)
    claim = await read_claim(kv, draft_scope(repo))
    assert claim is not None and claim.copying and claim.owner == "other"
    waiting = asyncio.ensure_future(
        Projector(git, kv, owner="w1", batch_size=BATCH, claim_stale_seconds=3600).project(repo)
    )
    await asyncio.sleep(0.5)
    assert not waiting.done()  # it waits for the live claim instead of stealing it
    stalled.release.set()
    first = await asyncio.wait_for(task, 30)
    await asyncio.wait_for(waiting, 30)
    assert first.switched and first.copied == SIZE
    await assert_kv_matches_head(kv, git, repo)


class MovesVisible(FaultyKv):
    """Before copy step ``at``, projects ``commit`` in place into the visible buffer ``draft-b``
    (a small commit landing while the copy runs)."""

    def __init__(self, inner: KvStore, git: GitClient, commit: str, at: int) -> None:
        super().__init__(inner)
        self.git, self.commit, self.at = git, commit, at

    async def copy_step(self, source: ChannelScope, target: ChannelScope, **kw: Any) -> CopyStep:
        if self.copies + 1 == self.at:
            late = Projector(self.git, self.inner, owner="late", batch_size=BATCH)
            done = await late.project_into(Target(source, self.commit, single_only=True))
            assert done.changed and done.upserts == 1
        return await super().copy_step(source, target, **kw)


async def test_a_commit_written_in_place_during_the_copy_is_caught_up(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    """Chunks copied before the visible buffer moved hold the older commit's documents: the
    hand-over claim names that commit, so those documents are re-read at the target."""
    await big_catalogue(git, kv, repo)
    small = await commit(git, repo, catalogue(range(1, 2), title="small "))  # p001
    await commit(git, repo, catalogue(range(30, 45), title="large "))
    moving = MovesVisible(kv, git, small.commit_sha, at=3)  # p000-p009 are copied by then

    result = await Projector(git, moving, owner="w1", batch_size=BATCH).project(repo)

    assert moving.copies > 3 and moving.copied == SIZE
    assert result.switched
    await assert_kv_matches_head(kv, git, repo)
    doc = await kv.get(await visible_draft(kv, repo), "product", "p001")
    assert doc is not None and doc.value()["spec"]["title"] == "small p1"


async def test_the_commit_is_prepared_while_the_copy_runs(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    """With a prepared-file cache, the commit's files are fetched and prepared during the
    copy; the projection that follows finds every one of them there."""
    await big_catalogue(git, kv, repo)
    await commit(git, repo, catalogue(range(15), title="v2 "))
    cache = PreparedCache(64 * 1024 * 1024)
    projector = Projector(git, kv, owner="w1", batch_size=BATCH, cache=cache)

    result = await projector.project(repo)

    assert result.switched and result.copied == SIZE and result.upserts == 15
    # 15 misses while warming (plus the in-place attempt's plan, which prepares nothing),
    # then 15 hits when the projection prepared its chunks
    assert (cache.misses, cache.hits) == (15, 15)
    await assert_kv_matches_head(kv, git, repo)
