"""Chunked projections: claims, crashes mid-way, stalled writers, takeovers.

A projection too large for one batch is written into the draft buffer readers do not see
(``worker/draft_switch.py``): the first one of a repository into ``draft-b`` (readers see
``draft`` until the switch), the next large one into ``draft``, and so on.
"""

from __future__ import annotations

import asyncio

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import NO_VERSION, draft_scope
from gitstore.git.client import GitClient
from gitstore.worker.claims import read_claim
from gitstore.worker.projector import Projector
from tests.worker.harness import (
    FaultyKv,
    assert_kv_matches_head,
    commit,
    files_of,
    product,
    visible_draft,
)

DRAFT_B = "draft-b"


def catalogue(n: int, *, title: str = "", category: str = "all") -> dict[str, bytes]:
    return files_of(
        *(
            product(f"p{i:03d}", title=f"{title}p{i}" if title else None, categories=[category])
            for i in range(n)
        )
    )


async def test_a_large_projection_is_written_in_chunks_under_a_claim(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    done = await commit(git, repo, catalogue(35))
    projector = Projector(git, kv, owner="w1", batch_size=10)

    result = await projector.project(repo)

    assert result.chunks == 4 and result.upserts == 35
    assert (result.channel, result.switched) == (DRAFT_B, True)
    scope = ChannelScope(repo, DRAFT_B)
    assert await visible_draft(kv, repo) == scope
    head = await kv.head(scope)
    # claim (1), chunks at 1, last chunk at 2
    assert head is not None and (head.version, head.sequence) == (done.commit_sha, 2)
    assert await read_claim(kv, scope) is None
    assert await kv.head(draft_scope(repo)) is None  # readers saw nothing, then everything
    docs = await kv.lookup(scope, "product", "category", "all", first=100)
    assert docs.total_count == 35
    await assert_kv_matches_head(kv, git, repo)


async def test_a_crash_between_chunks_then_a_revert_still_converges(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    """The dead writer's chunk left documents of a commit the branch then reverted; the
    diff head -> new head does not mention them, the claim does. Readers never see them."""
    await commit(git, repo, catalogue(30))
    await Projector(git, kv, owner="w0", batch_size=10).project(repo)
    second = await commit(git, repo, catalogue(30, title="v2 "))
    # The standby is empty: copy claim, copy, hand-over (2 applies), then the projection's
    # claim, first chunk, and it dies.
    crashing = FaultyKv(kv, fail_at=5)
    with pytest.raises(RuntimeError, match="injected crash"):
        await Projector(git, crashing, owner="dead", batch_size=10).project(repo)
    assert crashing.copied == 30
    assert await visible_draft(kv, repo) == ChannelScope(repo, DRAFT_B)  # readers: first
    scope = draft_scope(repo)  # the standby the dead writer was filling
    written = await kv.get(scope, "product", "p000")
    assert written is not None and written.version == second.commit_sha  # the dirty chunk
    head = await kv.head(scope)
    assert head is not None and head.version == NO_VERSION  # hidden while claimed
    claim = await read_claim(kv, scope)
    assert claim is not None and claim.owner == "dead" and claim.targets == (second.commit_sha,)

    third = await commit(git, repo, catalogue(30))  # back to the first commit's content
    result = await Projector(git, kv, owner="w1", batch_size=10, claim_stale_seconds=0.05).project(
        repo
    )

    # Readers never saw the dead chunk; the revert is a small diff from what they see, so it
    # is written in place and the dead claim stays in the standby until it is needed.
    assert not result.took_over and result.version == third.commit_sha
    assert result.channel == DRAFT_B
    doc = await kv.get(await visible_draft(kv, repo), "product", "p000")
    assert doc is not None and doc.value()["spec"]["title"] == "P000"
    await assert_kv_matches_head(kv, git, repo)
    assert await read_claim(kv, scope) is not None

    # The next large commit fills that standby: it takes the claim over, rewrites everything
    # the dead writer touched from the new head, and switches.
    await commit(git, repo, catalogue(30, title="v3 "))
    result = await Projector(git, kv, owner="w1", batch_size=10, claim_stale_seconds=0.05).project(
        repo
    )
    assert result.took_over and result.switched and result.channel == "draft"
    await assert_kv_matches_head(kv, git, repo)


async def test_a_crash_in_the_first_projection_leaves_no_version_and_recovers(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await commit(git, repo, catalogue(25))
    with pytest.raises(RuntimeError):
        await Projector(git, FaultyKv(kv, fail_at=2), owner="dead", batch_size=10).project(repo)
    head = await kv.head(ChannelScope(repo, DRAFT_B))
    assert head is not None and head.version == NO_VERSION and head.sequence == 1
    assert await visible_draft(kv, repo) == draft_scope(repo)  # readers: still nothing
    assert await kv.head(draft_scope(repo)) is None
    await commit(git, repo, files_of(product("late")), deletes=["products/p024.yaml"])

    await Projector(git, kv, owner="w1", batch_size=10, claim_stale_seconds=0.05).project(repo)

    await assert_kv_matches_head(kv, git, repo)


async def test_the_owner_of_a_claim_takes_it_over_at_once(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await commit(git, repo, catalogue(25))
    projector = Projector(git, FaultyKv(kv, fail_at=3), owner="me", batch_size=10)
    with pytest.raises(RuntimeError):
        await projector.project(repo)
    # Same owner (e.g. the retry of a nacked event in the same process): no waiting.
    result = await Projector(git, kv, owner="me", batch_size=10, claim_stale_seconds=3600).project(
        repo
    )
    assert result.took_over
    await assert_kv_matches_head(kv, git, repo)


async def test_a_stalled_writer_loses_its_claim_and_writes_nothing_more(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await commit(git, repo, catalogue(30))
    stalling = FaultyKv(kv, block_at=3)  # claim, chunk 1, then stalls before chunk 2
    slow = Projector(git, stalling, owner="slow", batch_size=10)
    slow_run = asyncio.create_task(slow.project(repo))
    await asyncio.wait_for(stalling.blocked.wait(), 30)
    newer = await commit(git, repo, catalogue(30, title="v2 "))

    fast = Projector(git, kv, owner="fast", batch_size=10, claim_stale_seconds=0.2)
    taken = await fast.project(repo)
    assert taken.took_over and taken.version == newer.commit_sha
    stalling.release.set()
    slow_result = await asyncio.wait_for(slow_run, 30)

    # The stalled chunk failed the head CAS; starting over it found the head current.
    assert not slow_result.changed and slow_result.version == newer.commit_sha
    doc = await kv.get(await visible_draft(kv, repo), "product", "p015")
    assert doc is not None and doc.value()["spec"]["title"] == "v2 p15"
    await assert_kv_matches_head(kv, git, repo)


async def test_a_live_claim_is_waited_for_not_stolen(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await commit(git, repo, catalogue(30))
    stalling = FaultyKv(kv, block_at=3)
    owner = Projector(git, stalling, owner="owner", batch_size=10)
    owner_run = asyncio.create_task(owner.project(repo))
    await asyncio.wait_for(stalling.blocked.wait(), 30)

    waiter = Projector(git, kv, owner="waiter", batch_size=10, claim_stale_seconds=3600)
    waiting = asyncio.create_task(waiter.project(repo))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # it waits for the live claim
    stalling.release.set()
    owned = await asyncio.wait_for(owner_run, 30)
    waited = await asyncio.wait_for(waiting, 30)

    assert owned.changed and not owned.took_over
    assert not waited.changed  # the owner finished; nothing left to do
    await assert_kv_matches_head(kv, git, repo)
