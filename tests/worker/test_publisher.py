"""The publisher against a real git service and a SQLite KV: first release, draft isolation,
in-place small releases (one batch, work proportional to the change), rollback, REPLAY,
superseded events, concurrent publishers, readers during a chunked publication, a crash
mid-publication, and the pruning of the buffers' tombstones."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gitstore.api.catalog.access import Channel, resolve_scope
from gitstore.backends.kv import Batch, KvStore
from gitstore.backends.kv.base import ApplyResult
from gitstore.backends.metadata.base import PublishMode, RepositoryRecord, Visibility
from gitstore.domain.errors import FailedPrecondition
from gitstore.domain.events import MAX_CHANGED_IDS, PublishedEvent, PublishEvent
from gitstore.domain.keys import LIVE, ChannelScope
from gitstore.domain.projection import draft_scope
from gitstore.git.client import GitClient
from gitstore.worker.projector import Projector
from gitstore.worker.publisher import BUFFERS, STRIDE, Publisher, publish_scope
from tests.worker.harness import (
    FaultyKv,
    assert_indexes,
    commit,
    expected_documents,
    files_of,
    kv_documents,
    path_of,
    product,
)


class CountingKv(FaultyKv):
    """Records every applied batch (scope, writes) and every ``list_documents`` call."""

    def __init__(self, inner: KvStore, **kwargs: Any) -> None:
        super().__init__(inner, **kwargs)
        self.batches: list[tuple[ChannelScope, int]] = []
        self.listings = 0

    async def apply(self, batch: Batch) -> ApplyResult:
        result = await super().apply(batch)
        self.batches.append((batch.scope, len(batch)))
        return result

    async def list_documents(
        self, scope: ChannelScope, kind: str, *, first: int, after: str | None = None
    ) -> Any:
        self.listings += 1
        return await super().list_documents(scope, kind, first=first, after=after)


class PruningKv(FaultyKv):
    """Records every ``prune_tombstones`` call: (channel, below_sequence, how many)."""

    def __init__(self, inner: KvStore) -> None:
        super().__init__(inner)
        self.prunes: list[tuple[str, int, int]] = []

    async def prune_tombstones(self, scope: ChannelScope, *, below_sequence: int) -> int:
        pruned = await super().prune_tombstones(scope, below_sequence=below_sequence)
        self.prunes.append((scope.channel, below_sequence, pruned))
        return pruned


def publisher_on(
    git: GitClient, kv: KvStore, *, batch_size: int = 2000, owner: str = "", **kw: Any
) -> tuple[Publisher, list[PublishedEvent]]:
    announced: list[PublishedEvent] = []

    async def announce(event: PublishedEvent) -> None:
        announced.append(event)

    projector = Projector(git, kv, owner=owner or uuid.uuid4().hex, batch_size=batch_size, **kw)
    return Publisher(projector, announce=announce), announced


def request(
    repo: str, sequence: int, sha: str, *, tag: str = "", kind: str = "PUBLISH"
) -> PublishEvent:
    return PublishEvent(
        event_id=f"publish:{repo}:{sequence}",
        repository_id=repo,
        sequence=sequence,
        tag=tag or f"v{sequence}",
        commit=sha,
        kind=kind,
    )


async def assert_live_is(kv: KvStore, git: GitClient, repo: str, sha: str) -> ChannelScope:
    """``live`` resolves to a buffer holding exactly the documents of ``sha``."""
    scope = await kv.resolve(repo, LIVE)
    assert scope.channel in BUFFERS, scope
    head = await kv.head(scope)
    assert head is not None and head.version == sha, f"{scope} head {head} is not {sha}"
    expected = await expected_documents(git, repo, sha)
    actual = await kv_documents(kv, scope)
    assert set(actual) == set(expected), (
        f"missing {sorted(set(expected) - set(actual))[:5]}, "
        f"extra {sorted(set(actual) - set(expected))[:5]}"
    )
    for key, value in expected.items():
        assert actual[key].value() == value, f"{key} differs in {scope}"
    await assert_indexes(kv, scope, expected)
    return scope


def record_of(repo: str, mode: PublishMode) -> RepositoryRecord:
    namespace, name = repo.split("/")
    now = datetime.now(UTC)
    return RepositoryRecord(
        "r1", "n1", namespace, name, "", mode, "main", Visibility.PUBLIC, now, "t", now, "t"
    )


async def catalogue(git: GitClient, repo: str, count: int, *, title: str = "") -> str:
    files = files_of(
        *(
            product(f"p{i:04d}", title=f"{title} {i}" if title else None, categories=["all"])
            for i in range(count)
        )
    )
    return (await commit(git, repo, files)).commit_sha


async def test_first_release_switches_live_and_later_draft_commits_stay_out(
    git: GitClient, kv: KvStore, repo: str, projector: Projector
) -> None:
    release_1 = await catalogue(git, repo, 5)
    await projector.project(repo)
    publisher, announced = publisher_on(git, kv)
    assert await kv.head(await kv.resolve(repo, LIVE)) is None  # nothing published yet
    # Storefront gating: before any release ON_RELEASE_TAG reads an empty live, ON_COMMIT draft.
    tagged = record_of(repo, PublishMode.ON_RELEASE_TAG)
    on_commit = record_of(repo, PublishMode.ON_COMMIT)
    assert await resolve_scope(kv, tagged, Channel.LIVE) == ChannelScope(repo, LIVE)
    assert await resolve_scope(kv, on_commit, Channel.LIVE) == draft_scope(repo)

    outcome = await publisher.publish(request(repo, 1, release_1))

    assert outcome.state == "PUBLISHED" and outcome.channel == "live-a"
    assert outcome.previous_commit == "" and outcome.sequence == 1
    assert outcome.changed == tuple(f"product/p{i:04d}" for i in range(5))
    assert announced == [outcome]
    await assert_live_is(kv, git, repo, release_1)
    assert await resolve_scope(kv, tagged, Channel.LIVE) == ChannelScope(repo, "live-a")
    assert await resolve_scope(kv, tagged, Channel.DRAFT) == draft_scope(repo)
    intent = await kv.get(publish_scope(repo), "intent", "live")
    assert intent is not None and intent.sequence == 1 and intent.value()["commit"] == release_1

    # A draft commit is projected into draft only: live keeps release 1.
    later = await commit(git, repo, files_of(product("p0000", title="Changed in draft")))
    await projector.project(repo)
    draft_doc = await kv.get(draft_scope(repo), "product", "p0000")
    assert draft_doc is not None and draft_doc.version == later.commit_sha
    await assert_live_is(kv, git, repo, release_1)

    # A redelivery re-announces the same outcome and changes nothing.
    again = await publisher.publish(request(repo, 1, release_1))
    assert (again.state, again.channel, again.previous_commit, again.changed) == (
        "PUBLISHED",
        "live-a",
        "",
        outcome.changed,
    )
    await assert_live_is(kv, git, repo, release_1)


async def test_small_release_is_one_batch_into_the_active_buffer_and_rollback_restores(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    release_1 = await catalogue(git, repo, 120)
    counting = CountingKv(kv)
    # batch_size 50 < catalogue (120): the first release is chunked, later small ones are not.
    publisher, _ = publisher_on(git, counting, batch_size=50)
    first = await publisher.publish(request(repo, 1, release_1))
    assert first.state == "PUBLISHED" and first.channel == "live-a"
    assert len([b for b in counting.batches if b[0].channel == "live-a"]) > 2  # chunked

    changed = await commit(
        git,
        repo,
        files_of(product("p0001", title="New title"), product("new-one")),
        deletes=[path_of(product("p0002"))],
    )
    release_2 = changed.commit_sha
    counting.batches.clear()
    counting.listings = 0

    second = await publisher.publish(request(repo, 2, release_2))

    assert second.state == "PUBLISHED" and second.channel == "live-a"
    assert second.previous_commit == release_1
    assert second.changed == ("product/new-one", "product/p0001", "product/p0002")
    buffer_writes = [(s.channel, n) for s, n in counting.batches if s.channel in BUFFERS]
    assert buffer_writes == [("live-a", 3)]  # one atomic batch of exactly the 3 changes
    assert counting.listings == 0  # no listing of the catalogue
    await assert_live_is(kv, git, repo, release_2)

    # Roll back: a new publication (higher sequence) of release 1's commit.
    counting.batches.clear()
    back = await publisher.publish(request(repo, 3, release_1, tag="v1"))
    assert back.state == "PUBLISHED" and back.previous_commit == release_2
    assert back.changed == second.changed
    assert [(s.channel, n) for s, n in counting.batches if s.channel in BUFFERS] == [("live-a", 3)]
    await assert_live_is(kv, git, repo, release_1)


async def test_large_release_goes_to_the_other_buffer_and_replay_rebuilds(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    release_1 = await catalogue(git, repo, 30, title="First")
    publisher, _ = publisher_on(git, kv, batch_size=10)
    await publisher.publish(request(repo, 1, release_1))
    release_2 = await catalogue(git, repo, 30, title="Second")  # 30 changes > batch of 10

    second = await publisher.publish(request(repo, 2, release_2))

    assert second.state == "PUBLISHED" and second.channel == "live-b"
    assert len(second.changed) == 30
    await assert_live_is(kv, git, repo, release_2)

    # Junk in the standby buffer (live-a) that a REPLAY must not carry over.
    standby = ChannelScope(repo, "live-a")
    head = await kv.head(standby)
    assert head is not None
    await kv.apply(
        Batch(standby, head.sequence, head.version, advance_head=False).upsert(
            "product", "stray", {"x": 1}
        )
    )
    replay = await publisher.publish(request(repo, 3, release_2, kind="REPLAY"))

    assert replay.state == "PUBLISHED" and replay.channel == "live-a"
    assert replay.changed == () and replay.previous_commit == release_2
    await assert_live_is(kv, git, repo, release_2)  # exactly: the stray document is gone


async def test_an_older_event_after_a_newer_one_is_superseded_and_changes_nothing(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    release_1 = await catalogue(git, repo, 4)
    release_2 = (await commit(git, repo, files_of(product("p0000", title="Two")))).commit_sha
    publisher, announced = publisher_on(git, kv)
    await publisher.publish(request(repo, 2, release_2))
    before = {k: d.body for k, d in (await kv_documents(kv, await kv.resolve(repo, LIVE))).items()}

    late = await publisher.publish(request(repo, 1, release_1))

    assert late.state == "SUPERSEDED" and late.channel == "" and late.changed == ()
    assert announced[-1] == late
    live = await assert_live_is(kv, git, repo, release_2)
    assert {k: d.body for k, d in (await kv_documents(kv, live)).items()} == before
    for buffer in BUFFERS:  # the late event wrote into no buffer
        head = await kv.head(ChannelScope(repo, buffer))
        assert head is None or head.version == release_2


async def test_concurrent_publishers_converge_on_the_newest_publication(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    shas = [await catalogue(git, repo, 40, title=f"Round {n}") for n in range(4)]
    one, _ = publisher_on(git, kv, batch_size=15)
    two, _ = publisher_on(git, kv, batch_size=15)
    await one.publish(request(repo, 1, shas[0]))
    sequence = 1
    for round_ in range(3):
        older, newer = sequence + 1, sequence + 2
        sequence = newer
        first, second = (one, two) if round_ % 2 else (two, one)
        outcomes = await asyncio.gather(
            first.publish(request(repo, older, shas[1 + round_ % 3])),
            second.publish(request(repo, newer, shas[(2 + round_) % 4])),
        )
        assert outcomes[1].state == "PUBLISHED"
        assert outcomes[0].state in ("PUBLISHED", "SUPERSEDED")
        await assert_live_is(kv, git, repo, shas[(2 + round_) % 4])


async def test_readers_never_see_a_mix_during_a_chunked_publication(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    count = 120
    names = [f"p{i:04d}" for i in range(count)]
    publisher, _ = publisher_on(git, kv, batch_size=10)
    releases = [await catalogue(git, repo, count, title=f"Gen{n}") for n in range(3)]
    await publisher.publish(request(repo, 1, releases[0]))
    seen: list[set[str]] = []
    done = asyncio.Event()

    async def reader() -> None:
        while not done.is_set():
            scope = await kv.resolve(repo, LIVE)  # once per "request", as storefronts do
            docs: Sequence[Any] = await kv.get_many(scope, "product", names)
            assert all(d is not None for d in docs), f"{scope} is missing documents"
            generations = {d.value()["spec"]["title"].split()[0] for d in docs}
            assert len(generations) == 1, f"mixed releases in {scope}: {generations}"
            seen.append(generations)
            await asyncio.sleep(0)

    task = asyncio.create_task(reader())
    try:
        for n, sha in enumerate(releases[1:], start=2):
            outcome = await publisher.publish(request(repo, n, sha))
            assert outcome.state == "PUBLISHED"
    finally:
        done.set()
        await task
    # (the reader's last pass may have resolved `live` just before the final switch)
    assert seen and all(len(generation) == 1 for generation in seen)
    scope = await kv.resolve(repo, LIVE)
    docs = await kv.get_many(scope, "product", names)
    assert {d.value()["spec"]["title"].split()[0] for d in docs if d is not None} == {"Gen2"}
    await assert_live_is(kv, git, repo, releases[2])


async def test_a_publication_killed_mid_way_converges_when_redelivered(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    release_1 = await catalogue(git, repo, 40, title="Before")
    publisher, _ = publisher_on(git, kv, batch_size=10)
    await publisher.publish(request(repo, 1, release_1))
    release_2 = await catalogue(git, repo, 40, title="After")
    # The 3rd apply (intent, claim, chunk 1, ...) dies: the standby buffer is half written.
    faulty = FaultyKv(kv, fail_at=3)
    crashed, _ = publisher_on(git, faulty, batch_size=10, owner="dead-worker")
    try:
        await crashed.publish(request(repo, 2, release_2))
    except RuntimeError as exc:
        assert "injected" in str(exc)
    else:
        raise AssertionError("the injected crash did not happen")
    await assert_live_is(kv, git, repo, release_1)  # readers still see release 1 only

    # The redelivery, on a fresh worker that takes the dead worker's claim over.
    fresh, announced = publisher_on(git, kv, batch_size=10, claim_stale_seconds=0.2)
    outcome = await fresh.publish(request(repo, 2, release_2))

    assert outcome.state == "PUBLISHED" and outcome.previous_commit == release_1
    assert announced == [outcome]
    await assert_live_is(kv, git, repo, release_2)


async def test_a_missing_commit_fails_the_publication(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await catalogue(git, repo, 1)
    publisher, announced = publisher_on(git, kv)
    outcome = await publisher.publish(request(repo, 1, "f" * 40))
    assert outcome.state == "FAILED" and outcome.error
    assert announced == [outcome]
    assert (await kv.resolve(repo, LIVE)).channel == LIVE


async def test_a_big_first_release_names_at_most_max_changed_ids(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    # every resource changed; the event (and webhook payload) carries the first 1,000 only
    count = MAX_CHANGED_IDS + 5
    release = await catalogue(git, repo, count)
    publisher, _ = publisher_on(git, kv)
    outcome = await publisher.publish(request(repo, 1, release))
    assert outcome.state == "PUBLISHED"
    assert outcome.changed_count == count
    assert len(outcome.changed) == MAX_CHANGED_IDS and outcome.changed_truncated
    assert list(outcome.changed) == sorted(f"product/p{i:04d}" for i in range(count))[:1000]
    again = PublishedEvent.from_json(outcome.to_json())
    assert again == outcome


async def snapshot(kv: KvStore, repo: str) -> dict[str, dict[tuple[str, str], bytes]]:
    """Every document body of both buffers."""
    return {
        buffer: {k: d.body for k, d in (await kv_documents(kv, ChannelScope(repo, buffer))).items()}
        for buffer in BUFFERS
    }


async def test_tombstones_below_the_live_publication_are_pruned_and_late_events_stay_out(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    release_1 = await catalogue(git, repo, 30)
    pruning = PruningKv(kv)
    publisher, _ = publisher_on(git, pruning, batch_size=10)  # the first release is chunked
    assert (await publisher.publish(request(repo, 1, release_1))).channel == "live-a"

    def drop(*names: str) -> list[str]:
        return [path_of(product(name)) for name in names]

    # 2 and 3: small releases deleting products, in place into live-a. Each prunes what is
    # below its own range: 2 the chunked claim's marker of 1, 3 the products deleted by 2.
    release_2 = (await commit(git, repo, deletes=drop("p0001", "p0002"))).commit_sha
    assert (await publisher.publish(request(repo, 2, release_2))).channel == "live-a"
    release_3 = (
        await commit(git, repo, files_of(product("p0000", title="Three")), deletes=drop("p0003"))
    ).commit_sha
    assert (await publisher.publish(request(repo, 3, release_3))).channel == "live-a"
    # 4: a large release (deletes 12 products) switches to live-b (prunes 3's p0003 in live-a);
    # 5: a rollback to 3 switches back to live-a (prunes 4's claim marker in live-b).
    release_4 = (
        await commit(git, repo, deletes=drop(*(f"p{i:04d}" for i in range(10, 22))))
    ).commit_sha
    assert (await publisher.publish(request(repo, 4, release_4))).channel == "live-b"
    planned_against = await kv.head(ChannelScope(repo, "live-a"))  # still 3's head
    assert planned_against is not None and planned_against.version == release_3
    back = await publisher.publish(request(repo, 5, release_3, tag="v3"))
    assert back.state == "PUBLISHED" and back.channel == "live-a"
    assert [(c, below // STRIDE, n) for c, below, n in pruning.prunes] == [
        ("live-a", 1, 0),
        ("live-b", 1, 0),
        ("live-a", 2, 1),
        ("live-b", 2, 0),
        ("live-a", 3, 2),
        ("live-b", 3, 0),
        ("live-a", 4, 1),
        ("live-b", 4, 0),
        ("live-a", 5, 0),
        ("live-b", 5, 1),
    ]
    assert all(below % STRIDE == 0 for _, below, _ in pruning.prunes)
    live = await assert_live_is(kv, git, repo, release_3)

    # No tombstone older than publication 5's range is left in either buffer ...
    for buffer in BUFFERS:
        assert await kv.prune_tombstones(ChannelScope(repo, buffer), below_sequence=5 * STRIDE) == 0
    # ... the standby buffer still holds release 4 exactly ...
    standby = ChannelScope(repo, "live-b")
    assert set(await kv_documents(kv, standby)) == set(
        await expected_documents(git, repo, release_4)
    )
    # ... and a batch an older publication (4, in place) planned against live-a's head before
    # 5 made it live (the only kind of write a tombstone could have stopped) is refused: 5 found
    # live-a already at release 3, wrote nothing, but stamped the head into its own range.
    head = await kv.head(live)
    assert head is not None and head.sequence == 5 * STRIDE and head.version == release_3
    stale = Batch(live, 4 * STRIDE + 7, release_4, expected_head_sequence=planned_against.sequence)
    stale.delete("product", "p0000")
    try:
        await kv.apply(stale)
    except FailedPrecondition as exc:
        assert exc.field == "expected_head_sequence"
    else:
        raise AssertionError("a stale batch was applied into the live buffer")

    # Late, older publication events: SUPERSEDED, nothing written, nothing resurrected.
    before = await snapshot(kv, repo)
    for late in (request(repo, 2, release_2), request(repo, 1, release_1, kind="REPLAY")):
        outcome = await publisher.publish(late)
        assert outcome.state == "SUPERSEDED" and outcome.channel == ""
    assert await snapshot(kv, repo) == before
    await assert_live_is(kv, git, repo, release_3)
    for name in ("p0001", "p0002", "p0003"):
        assert await kv.get(live, "product", name) is None


async def test_an_older_in_place_write_in_flight_cannot_land_after_a_no_op_publication(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    release_1 = await catalogue(git, repo, 5)
    publisher, _ = publisher_on(git, kv)
    await publisher.publish(request(repo, 1, release_1))
    release_2 = (
        await commit(
            git, repo, files_of(product("p0000", title="Two")), deletes=[path_of(product("p0001"))]
        )
    ).commit_sha
    # Publication 2 (in place into live-a) has planned its batch; it is held before applying
    # it (apply 1 = intent, 2 = the buffer batch) ...
    slow_kv = FaultyKv(kv, block_at=2)
    slow, _ = publisher_on(git, slow_kv)
    task = asyncio.create_task(slow.publish(request(repo, 2, release_2)))
    await slow_kv.blocked.wait()
    # ... when publication 3 asks for release 1 again: live-a already holds it (nothing to
    # write), so 3 only stamps live-a's head into its range and keeps live there.
    third = await publisher.publish(request(repo, 3, release_1, tag="v1"))
    assert third.state == "PUBLISHED" and third.channel == "live-a"
    slow_kv.release.set()
    second = await task

    assert second.state == "SUPERSEDED"
    live = await assert_live_is(kv, git, repo, release_1)  # not release 2
    assert await kv.get(live, "product", "p0001") is not None
