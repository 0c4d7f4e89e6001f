"""A release of a commit whose draft projection is still running waits for that projection
and copies the draft, and stops waiting for a draft whose heartbeat stopped
(``worker/release_copy.wait_for_draft``): real git service, SQLite KV."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from gitstore.backends.kv import Batch, Document, KvStore
from gitstore.domain.keys import LIVE, ChannelScope
from gitstore.domain.projection import NO_VERSION, PROJECTION_KIND, PROJECTION_MARKER
from gitstore.git.client import GitClient
from gitstore.worker.claims import Claim
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.projector import Projector
from gitstore.worker.publisher import Publisher
from tests.worker.harness import FaultyKv, kv_documents
from tests.worker.test_publisher import assert_live_is, catalogue, request
from tests.worker.test_release_copy import CountingProjector

N, BATCH = 600, 100


class Gate(FaultyKv):
    """``FaultyKv`` (``block_at``: the draft's first chunk waits) that also counts the reads
    of the claim in ``draft-b``, the standby every multi-batch draft projection writes."""

    def __init__(self, inner: KvStore, *, block_at: int | None = None) -> None:
        super().__init__(inner, block_at=block_at)
        self.claim_reads = 0
        self.polled = asyncio.Event()

    async def get(self, scope: ChannelScope, kind: str, name: str) -> Document | None:
        if (kind, name, scope.channel) == (PROJECTION_KIND, PROJECTION_MARKER, "draft-b"):
            self.claim_reads += 1
            if self.claim_reads >= 3:
                self.polled.set()
        return await self.inner.get(scope, kind, name)


def waits(metrics: WorkerMetrics, outcome: str) -> float:
    name = "gitstore_worker_release_draft_wait_seconds_count"
    return metrics.registry.get_sample_value(name, {"outcome": outcome}) or 0.0


@pytest.mark.parametrize(
    "block_at",
    [1, 2],
    ids=["planned-not-claimed-yet", "under-its-claim"],
)
async def test_a_release_waits_for_the_draft_of_its_commit_then_copies_it(
    git: GitClient, kv: KvStore, repo: str, block_at: int
) -> None:
    sha = await catalogue(git, repo, N)
    # the draft stops at its claim batch in draft-b (1) or at its first chunk (2)
    gate = Gate(kv, block_at=block_at)
    # ONE worker: the same projector (owner) projects the draft and publishes
    projector = CountingProjector(
        git, gate, owner="worker", batch_size=BATCH, claim_stale_seconds=60, poll_interval=0.01
    )
    draft = asyncio.create_task(projector.project(repo))
    await gate.blocked.wait()  # the draft projection of sha runs, not done
    gate.claim_reads = 0
    publisher = Publisher(projector)
    release = asyncio.create_task(publisher.publish(request(repo, 1, sha)))

    async def resource_sync_starts() -> int:  # as the handler does after the projection
        await publisher.copied(repo)
        return gate.copied

    try:
        polled = asyncio.ensure_future(gate.polled.wait())
        await asyncio.wait([polled, release], return_when=asyncio.FIRST_COMPLETED)
        assert polled.done() and not release.done()  # polling the draft's claim, waiting
        sync = asyncio.create_task(resource_sync_starts())
        # the draft only: the chunk it writes and the ones its pipeline prepared ahead
        assert projector.prepared <= (projector.depth + 1) * BATCH
        gate.release.set()
        await draft
        outcome = await release
        assert await sync == N  # the resource sync went after the copy
    finally:
        gate.release.set()
        for task in (draft, release):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert outcome.state == "PUBLISHED" and outcome.channel == "live-a"
    assert gate.copied == N  # the release is the draft, copied
    assert projector.prepared == N  # every file prepared once: by the draft, none again
    assert waits(projector.metrics, "ready") == 1
    await assert_live_is(kv, git, repo, sha)

    # the same content as a release projected from scratch (REPLAY: from Git, into live-b)
    replay = await Publisher(projector).publish(request(repo, 2, sha, kind="REPLAY"))
    assert replay.state == "PUBLISHED" and replay.channel == "live-b"
    copied = await kv_documents(kv, ChannelScope(repo, "live-a"))
    projected = await kv_documents(kv, ChannelScope(repo, "live-b"))
    assert len(copied) == N
    assert {k: (d.body, d.version) for k, d in copied.items()} == {
        k: (d.body, d.version) for k, d in projected.items()
    }


async def test_a_release_stops_waiting_for_a_draft_whose_heartbeat_stopped(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    sha = await catalogue(git, repo, N)
    stuck = Gate(kv, block_at=2)  # the draft's coordinator hangs after writing its claim
    draft = asyncio.create_task(
        Projector(git, stuck, owner="stuck", batch_size=BATCH).project(repo)
    )
    counting = FaultyKv(kv)  # counts what copy_step copied
    projector = CountingProjector(
        git,
        counting,
        owner="releaser",
        batch_size=BATCH,
        claim_stale_seconds=0.5,
        poll_interval=0.02,
    )
    try:
        await stuck.blocked.wait()
        outcome = await Publisher(projector).publish(request(repo, 1, sha))
        assert not draft.done()  # the draft never finished: the release did not wait for it
    finally:
        draft.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await draft
    assert outcome.state == "PUBLISHED"
    assert waits(projector.metrics, "stale") == 1 and waits(projector.metrics, "ready") == 0
    assert counting.copied == 0 and projector.prepared == N  # projected from Git
    await assert_live_is(kv, git, repo, sha)
    assert (await kv.resolve(repo, LIVE)).channel == "live-a"


async def test_a_zero_cap_never_waits(git: GitClient, kv: KvStore, repo: str) -> None:
    sha = await catalogue(git, repo, N)
    gate = Gate(kv, block_at=2)
    projector = CountingProjector(
        git, gate, owner="worker", batch_size=BATCH, claim_stale_seconds=60, poll_interval=0.01
    )
    draft = asyncio.create_task(projector.project(repo))
    try:
        await gate.blocked.wait()
        outcome = await Publisher(projector, draft_wait=0).publish(request(repo, 1, sha))
        assert not draft.done()
    finally:
        gate.release.set()
        with contextlib.suppress(asyncio.CancelledError):
            await draft
    assert outcome.state == "PUBLISHED"
    assert waits(projector.metrics, "cap") == 1
    assert gate.copied == 0  # nothing complete to copy when it stopped waiting
    await assert_live_is(kv, git, repo, sha)


async def test_a_release_stops_waiting_when_another_worker_takes_the_claim_over(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    sha = await catalogue(git, repo, N)
    standby = ChannelScope(repo, "draft-b")

    async def claim(owner: str, sequence: int) -> None:  # as _write_chunked writes one
        batch = Batch(standby, sequence, NO_VERSION, expected_head_sequence=sequence - 1)
        value = Claim(None, (sha,), owner, time.time(), sequence).value()
        await kv.apply(batch.upsert(PROJECTION_KIND, PROJECTION_MARKER, value))

    await claim("first", 1)  # a live draft projection of sha, in another process
    gate = Gate(kv)
    projector = CountingProjector(
        git, gate, owner="releaser", batch_size=BATCH, claim_stale_seconds=60, poll_interval=0.01
    )
    release = asyncio.create_task(Publisher(projector).publish(request(repo, 1, sha)))
    polled = asyncio.ensure_future(gate.polled.wait())
    await asyncio.wait([polled, release], return_when=asyncio.FIRST_COMPLETED)
    assert polled.done() and not release.done()  # waiting for "first"
    await claim("second", 2)  # taken over: the draft starts over, not waited for
    outcome = await release
    assert outcome.state == "PUBLISHED"
    assert waits(projector.metrics, "owner") == 1
    assert gate.copied == 0 and projector.prepared == N  # projected from Git
    await assert_live_is(kv, git, repo, sha)
