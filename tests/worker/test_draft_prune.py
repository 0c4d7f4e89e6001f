"""Tombstones of ``draft`` are pruned after each projection, and nothing old comes back:
redelivered and late events, a batch planned against an older head, a stalled chunk."""

from __future__ import annotations

import asyncio

import pytest

from gitstore.backends.kv import Batch, KvStore
from gitstore.domain.errors import FailedPrecondition, Unavailable
from gitstore.domain.projection import draft_scope
from gitstore.git.client import GitClient
from gitstore.worker.handler import EventHandler
from gitstore.worker.projector import Projector
from gitstore.worker.statuses import StatusRecorder
from tests.worker.harness import (
    FaultyKv,
    assert_kv_matches_head,
    commit,
    event_of,
    files_of,
    kv_documents,
    path_of,
    product,
    visible_draft,
)


def catalogue(n: int) -> dict[str, bytes]:
    return files_of(*(product(f"p{i:03d}") for i in range(n)))


def gone(first: int, last: int) -> list[str]:
    return [path_of(product(f"p{i:03d}")) for i in range(first, last)]


async def test_a_chunked_delete_leaves_no_tombstone_below_the_head_and_old_events_change_nothing(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    projector = Projector(git, kv, owner="w1", batch_size=10)
    handler = EventHandler(projector, StatusRecorder(git, kv))
    first = await commit(git, repo, catalogue(30))
    assert await handler.handle(event_of(repo, first)) == "projected"
    second = await commit(git, repo, deletes=gone(0, 25))

    result = await projector.project(repo)

    # Too large for one batch: written into the standby buffer (``draft``; the first commit
    # went to ``draft-b``), which catches up from what it held, then readers switch to it.
    assert result.switched and result.chunks >= 1
    scope = await visible_draft(kv, repo)
    assert scope.channel == result.channel == "draft"
    head = await kv.head(scope)
    assert head is not None and (head.version, head.sequence) == (
        second.commit_sha,
        result.sequence,
    )
    assert await kv.prune_tombstones(scope, below_sequence=head.sequence) == 0
    snapshot = await kv_documents(kv, scope)
    assert sorted(name for _, name in snapshot) == [f"p{i:03d}" for i in range(25, 30)]

    assert await handler.handle(event_of(repo, first)) == "unchanged"  # late
    assert await handler.handle(event_of(repo, second)) == "unchanged"  # redelivered
    assert await kv.head(scope) == head
    assert await kv_documents(kv, scope) == snapshot
    await assert_kv_matches_head(kv, git, repo)


async def test_a_batch_planned_against_an_older_head_cannot_resurrect_a_pruned_delete(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    scope = draft_scope(repo)
    first = await commit(git, repo, catalogue(3))
    await projector.project(repo)  # head 1
    await commit(git, repo, deletes=gone(0, 1))
    await projector.project(repo)  # head 2: p000's tombstone at 2
    third = await commit(git, repo, files_of(product("p001", title="v3")))
    result = await projector.project(repo)  # head 3: prunes p000's tombstone
    assert result.pruned == 1 and result.sequence == 3

    # What a writer that planned against head 1 (the first commit) would send.
    stale = Batch(scope, 2, first.commit_sha, expected_head_sequence=1)
    stale.upsert("product", "p000", {"title": "back from the dead"})
    with pytest.raises(FailedPrecondition) as refused:
        await kv.apply(stale)
    assert refused.value.field == "expected_head_sequence"
    assert await kv.get(scope, "product", "p000") is None
    head = await kv.head(scope)
    assert head is not None and (head.version, head.sequence) == (third.commit_sha, 3)
    await assert_kv_matches_head(kv, git, repo)


async def test_a_stalled_chunk_after_a_takeover_and_a_prune_resurrects_nothing(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    scope = draft_scope(repo)
    await commit(git, repo, catalogue(30))
    stalling = FaultyKv(kv, block_at=3)  # claim, chunk 1, then stalls before chunk 2
    slow = Projector(git, stalling, owner="slow", batch_size=10)
    slow_run = asyncio.create_task(slow.project(repo))
    await asyncio.wait_for(stalling.blocked.wait(), 30)
    newer = await commit(git, repo, deletes=gone(5, 30))

    fast = Projector(git, kv, owner="fast", batch_size=10, claim_stale_seconds=0.2)
    taken = await fast.project(repo)
    # What readers see (``draft``, nothing yet) is 5 upserts from the newer head: in place.
    assert taken.version == newer.commit_sha and taken.channel == "draft"
    head = await kv.head(scope)
    assert head is not None and await kv.prune_tombstones(scope, below_sequence=head.sequence) == 0
    stalling.release.set()
    slow_result = await asyncio.wait_for(slow_run, 30)

    # The stalled writer finished its standby but saw the visible buffer move: no switch to
    # its older commit; starting over it found readers at the head.
    assert not slow_result.changed and slow_result.version == newer.commit_sha
    assert await visible_draft(kv, repo) == scope
    assert await kv.head(scope) == head
    names = sorted(name for _, name in await kv_documents(kv, scope))
    assert names == [f"p{i:03d}" for i in range(5)]
    await assert_kv_matches_head(kv, git, repo)


async def test_a_failing_prune_is_logged_not_fatal(
    git: GitClient, kv: KvStore, repo: str, caplog: pytest.LogCaptureFixture
) -> None:
    class NoPrune(FaultyKv):
        async def prune_tombstones(self, scope: object, *, below_sequence: int) -> int:
            raise Unavailable("kv is away")

    projector = Projector(git, NoPrune(kv), owner="w1")
    await commit(git, repo, catalogue(2))
    await projector.project(repo)
    done = await commit(git, repo, deletes=gone(0, 1))

    result = await projector.project(repo)

    assert result.changed and result.version == done.commit_sha and result.pruned == 0
    assert "could not prune the tombstones" in caplog.text
    await assert_kv_matches_head(kv, git, repo)
