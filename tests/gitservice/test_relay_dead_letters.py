"""No outbox row blocks the ones behind it: size-bounded events, and the relay's dead letters.

The fault (issue "Under faults and races nothing gets stuck"): a push changing ~6,000 files
with long names made a ref-update event over NATS' 1 MiB maximum payload; the relay
publishes in order and retried that row forever, so no later event of any repository was
published. ``test_an_oversized_row_does_not_block_the_next_repository`` reproduces it with a
row written the old way (full path list) followed by a row of another repository, on the
real NATS server and on the in-memory queue.

The relay is driven one pass at a time (``_publish_ready``), so nothing here waits on time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.backends.queue.memory import MemoryQueue
from gitstore.domain.errors import InvalidArgument, Unavailable
from gitstore.domain.events import MAX_EVENT_BYTES, ChangedPathInfo, RefUpdateEvent
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import events
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.relay import OutboxRelay, fit_payload
from tests.servers import NATS_URL, require_server

SHA_A, SHA_B = "a" * 40, "b" * 40


class NoProbe:
    def ref_target(self, repository_id: str, ref: str) -> str | None:
        return None

    def contains(self, repository_id: str, tip: str, commit: str) -> bool:
        return False


def huge_event(repository: str = "acme/huge", files: int = 6000) -> RefUpdateEvent:
    """A ref update listing ``files`` long paths, as the service built them before (~2 MB)."""
    paths = tuple(
        ChangedPathInfo(
            path=f"products/{'long-product-name-' * 8}{i:05d}.yaml",
            change_type="ADDED",
            new_blob_id=f"{i:040x}",
        )
        for i in range(files)
    )
    return RefUpdateEvent(
        event_id=uuid.uuid4().hex,
        repository_id=repository,
        ref="refs/heads/main",
        old=SHA_A,
        new=SHA_B,
        changed_paths=paths,
    )


def small_event(repository: str) -> RefUpdateEvent:
    return RefUpdateEvent(uuid.uuid4().hex, repository, "refs/heads/main", SHA_A, SHA_B)


def add(outbox: Outbox, event: RefUpdateEvent) -> int:
    row = outbox.intent(event)
    outbox.committed(row)
    return row


@pytest.fixture
def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    box = Outbox(tmp_path / ".outbox.sqlite3", fsync=False)
    yield box
    box.close()


@pytest.fixture(params=["memory", "nats"])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[Queue]:
    url = "memory://" if request.param == "memory" else require_server(NATS_URL, "NATS")
    q = await open_queue(url, stream=f"relay-{uuid.uuid4().hex[:12]}")
    yield q
    await q.drop()
    await q.close()


async def received(queue: Queue, count: int) -> list[RefUpdateEvent]:
    got: list[RefUpdateEvent] = []
    for _ in range(20):
        for message in await queue.fetch("t", "c", max_messages=count, timeout=0.5):
            got.append(RefUpdateEvent.from_json(message.body))
            await queue.ack("t", message.id)
        if len(got) >= count:
            break
    return got


def test_events_of_huge_changes_are_sent_by_reference() -> None:
    changes = [
        pb.ChangedPath(
            path=f"products/{'x' * 150}-{i}.yaml",
            change_type=pb.CHANGE_TYPE_ADDED,
            new_blob_id=f"{i:040x}",
        )
        for i in range(6000)
    ]
    assert len(huge_event().to_json()) > 1024 * 1024  # what the service used to publish
    event = events.ref_update("acme/huge", "refs/heads/main", SHA_A, SHA_B, pb.Trailers(), changes)
    assert len(event.to_json()) <= MAX_EVENT_BYTES
    assert (event.changed_paths, event.changed_count, event.changed_truncated) == ((), 6000, True)
    assert (event.old, event.new, event.repository_id) == (SHA_A, SHA_B, "acme/huge")
    few = events.ref_update("acme/s", "refs/heads/main", SHA_A, SHA_B, pb.Trailers(), changes[:3])
    assert (len(few.changed_paths), few.changed_count, few.changed_truncated) == (3, 3, False)
    again = RefUpdateEvent.from_json(event.to_json())
    assert again == event
    legacy = RefUpdateEvent.from_json(
        small_event("acme/old").to_json().replace(b',"changed_count":0', b"")
    )
    assert legacy.changed_count == 0 and not legacy.changed_truncated  # older messages decode


async def test_an_oversized_row_does_not_block_the_next_repository(
    outbox: Outbox, queue: Queue
) -> None:
    huge, normal = huge_event(), small_event("acme/other")
    add(outbox, huge)  # written before events were size-bounded
    add(outbox, normal)
    relay = OutboxRelay(outbox, NoProbe(), lambda: open_queue("memory://"))
    assert await relay._publish_ready(queue) == 2
    first, second = await received(queue, 2)
    assert (first.event_id, first.changed_paths, first.changed_count) == (huge.event_id, (), 6000)
    assert second == normal
    assert outbox.count() == 0 and outbox.dead_count() == 0


class Refusing(MemoryQueue):
    """Refuses bodies that contain ``refuse`` for good; ``down`` makes every publish fail."""

    def __init__(self) -> None:
        super().__init__("relay")
        self.refuse = b"\x00never"
        self.flaky = b"\x00never"
        self.down = False

    async def publish(self, body: bytes, *, key: str = "") -> str:
        if self.down or self.flaky in body:
            raise Unavailable("queue hiccup")
        if self.refuse in body:
            raise InvalidArgument("refused")
        return await super().publish(body, key=key)


async def test_a_refused_row_is_buried_listed_revived_and_dropped(outbox: Outbox) -> None:
    queue = Refusing()
    bad, good = small_event("acme/bad"), small_event("acme/good")
    queue.refuse = bad.event_id.encode()
    bad_row = add(outbox, bad)
    add(outbox, good)
    relay = OutboxRelay(outbox, NoProbe(), lambda: open_queue("memory://"))
    assert await relay._publish_ready(queue) == 2
    assert [e.event_id for e in await received(queue, 1)] == [good.event_id]
    [dead] = outbox.dead_rows()
    assert (dead.id, dead.event_id, dead.repository_id, dead.reason) == (
        bad_row,
        bad.event_id,
        "acme/bad",
        "refused",
    )
    assert relay.metrics.dead_lettered._value.get() == 1
    assert relay.metrics.dead._value.get() == 1
    queue.refuse = b"\x00never"  # fixed: replay it
    assert outbox.revive(dead.id) is True and outbox.revive(dead.id) is False
    assert await relay._publish_ready(queue) == 1
    assert [e.event_id for e in await received(queue, 1)] == [bad.event_id]
    assert outbox.dead_count() == 0
    queue.refuse = good.event_id.encode()
    add(outbox, good)
    assert await relay._publish_ready(queue) == 1
    [dead] = outbox.dead_rows()
    assert outbox.drop_dead(dead.id) is True and outbox.drop_dead(dead.id) is False


async def test_a_row_that_keeps_failing_while_others_pass_is_buried(outbox: Outbox) -> None:
    queue = Refusing()
    stuck = small_event("acme/stuck")
    queue.flaky = stuck.event_id.encode()
    add(outbox, stuck)
    behind = small_event("acme/stuck")  # same repository: stays behind it, in order
    add(outbox, behind)
    relay = OutboxRelay(
        outbox, NoProbe(), lambda: open_queue("memory://"), max_strikes=3, retry_base=0.0
    )
    others = []
    for _ in range(3):
        other = small_event("acme/other")
        add(outbox, other)
        others.append(other.event_id)
        await relay._publish_ready(queue)
    await relay._publish_ready(queue)  # the stuck row is buried: its repository goes on
    got = [e.event_id for e in await received(queue, 4)]
    assert got == [*others, behind.event_id]
    [dead] = outbox.dead_rows()
    assert dead.event_id == stuck.event_id and "failed 3 times" in dead.reason


async def test_a_queue_that_is_down_buries_nothing(outbox: Outbox) -> None:
    queue = Refusing()
    queue.down = True
    for repository in ("acme/a", "acme/b", "acme/c"):
        add(outbox, small_event(repository))
    relay = OutboxRelay(
        outbox, NoProbe(), lambda: open_queue("memory://"), max_strikes=1, retry_base=0.0
    )
    for _ in range(5):
        with pytest.raises(Unavailable):
            await relay._publish_ready(queue)
    assert outbox.count() == 3 and outbox.dead_count() == 0
    queue.down = False
    assert await relay._publish_ready(queue) == 3


def test_fit_payload_leaves_other_bodies_alone() -> None:
    assert fit_payload(b"x" * 10, 5) == b"x" * 10  # not an event: the queue refuses it
    body = huge_event().to_json()
    fitted = fit_payload(body, MAX_EVENT_BYTES)
    assert len(fitted) < MAX_EVENT_BYTES
    assert RefUpdateEvent.from_json(fitted).changed_count == 6000
