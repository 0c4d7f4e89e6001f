"""The consumer loop on a real SQLite queue with handler doubles: acks, retries, poison
messages, per-repository serialisation, graceful stop."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.domain.errors import InvalidArgument, Unavailable
from gitstore.domain.events import ZERO_SHA, PublishEvent, RefUpdateEvent
from gitstore.worker.consumer import Consumer, KeyedLocks, backoff
from gitstore.worker.metrics import WorkerMetrics

GROUP = "projector"


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[Queue]:
    q = await open_queue(f"sqlite:///{tmp_path}/queue.sqlite3", stream="events", ack_wait=30.0)
    try:
        yield q
    finally:
        await q.close()


def event(repository: str, n: int) -> bytes:
    return RefUpdateEvent(
        f"e{n}", repository, "refs/heads/main", ZERO_SHA, f"{n:040x}", timestamp=time.time()
    ).to_json()


async def run_until(consumer: Consumer, done: asyncio.Event, timeout: float = 30.0) -> None:
    task = asyncio.create_task(consumer.run(grace=5.0))
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)


def count(metrics: WorkerMetrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value("gitstore_worker_events_total", {"outcome": outcome})
    return value or 0.0


async def test_events_are_handled_and_acked(queue: Queue) -> None:
    for n in range(5):
        await queue.publish(event("acme/shop", n), key="acme/shop")
    seen: list[str] = []
    done = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        seen.append(e.event_id)
        if len(seen) == 5:
            done.set()
        return "projected"

    metrics = WorkerMetrics()
    consumer = Consumer(queue, handle, group=GROUP, name="c1", metrics=metrics)
    await run_until(consumer, done)

    assert sorted(seen) == [f"e{n}" for n in range(5)]
    assert await queue.pending(GROUP) == 0
    assert count(metrics, "projected") == 5
    lag = metrics.registry.get_sample_value("gitstore_worker_event_age_seconds_count")
    assert lag == 5


async def test_passing_errors_are_retried_with_a_nack(queue: Queue) -> None:
    await queue.publish(event("acme/shop", 1))
    calls: list[int] = []
    done = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Unavailable("git service is down")
        done.set()
        return "projected"

    metrics = WorkerMetrics()
    consumer = Consumer(queue, handle, group=GROUP, name="c1", metrics=metrics, backoff_base=0.01)
    await run_until(consumer, done)

    assert len(calls) == 3
    assert count(metrics, "retried") == 2 and count(metrics, "projected") == 1
    assert await queue.pending(GROUP) == 0


async def test_poison_messages_are_logged_and_acked(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    await queue.publish(b"not an event")
    await queue.publish(event("acme/shop", 1))
    await queue.publish(event("acme/shop", 2))
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        handled.append(e.event_id)
        if e.event_id == "e1":
            raise InvalidArgument("refused for good")
        done.set()
        return "projected"

    metrics = WorkerMetrics()
    consumer = Consumer(queue, handle, group=GROUP, name="c1", metrics=metrics, concurrency=1)
    await run_until(consumer, done)

    assert handled == ["e1", "e2"]
    assert count(metrics, "poison") == 2 and count(metrics, "projected") == 1
    assert await queue.pending(GROUP) == 0
    assert "not an event" in caplog.text and "refused for good" in caplog.text


async def test_unexpected_errors_are_dropped_after_max_deliveries(queue: Queue) -> None:
    await queue.publish(event("acme/shop", 1))
    calls: list[int] = []
    done = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        calls.append(1)
        if len(calls) == 3:
            done.set()
        raise RuntimeError("bug")

    metrics = WorkerMetrics()
    consumer = Consumer(
        queue, handle, group=GROUP, name="c1", metrics=metrics, max_deliveries=3, backoff_base=0.01
    )
    await run_until(consumer, done)

    assert len(calls) == 3
    assert count(metrics, "retried") == 2 and count(metrics, "poison") == 1
    assert await queue.pending(GROUP) == 0


async def test_one_repository_at_a_time_others_in_parallel(queue: Queue) -> None:
    for n in range(6):
        for repository in ("acme/one", "acme/two"):
            await queue.publish(event(repository, n), key=repository)
    active: Counter[str] = Counter()
    most: Counter[str] = Counter()
    overall = 0
    finished = 0
    done = asyncio.Event()
    both = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        nonlocal overall, finished
        active[e.repository_id] += 1
        most[e.repository_id] = max(most[e.repository_id], active[e.repository_id])
        overall = max(overall, sum(active.values()))
        if sum(active.values()) == 2:
            both.set()
        # Hold the slot until both repositories were seen at once (or give up waiting).
        await asyncio.wait([asyncio.ensure_future(both.wait())], timeout=2)
        active[e.repository_id] -= 1
        finished += 1
        if finished == 12:
            done.set()
        return "projected"

    consumer = Consumer(queue, handle, group=GROUP, name="c1", concurrency=4)
    await run_until(consumer, done)

    assert most == {"acme/one": 1, "acme/two": 1}
    assert overall == 2
    assert len(consumer.locks) == 0  # locks are forgotten once free


async def test_a_publication_is_handled_beside_a_ref_update_of_its_repository(
    queue: Queue,
) -> None:
    """A release does not queue behind the ref update of its repository (its own lock,
    ``PublishEvent.lock_key``): the ref update here ends only once the release was handled,
    which would never happen under one lock per repository. Two releases stay one at a
    time."""
    await queue.publish(event("acme/shop", 1), key="acme/shop")
    for sequence in (1, 2):
        publish = PublishEvent(f"p{sequence}", "acme/shop", sequence, f"v{sequence}", "a" * 40)
        await queue.publish(publish.to_json(), key="acme/shop")
    released = asyncio.Event()
    done = asyncio.Event()
    releasing = most = 0
    handled: list[str] = []

    async def handle(e: RefUpdateEvent | PublishEvent) -> str:
        nonlocal releasing, most
        if isinstance(e, PublishEvent):
            releasing += 1
            most = max(most, releasing)
            await asyncio.sleep(0.05)
            releasing -= 1
            released.set()
        else:
            await released.wait()
        handled.append(e.event_id)
        if len(handled) == 3:
            done.set()
        return "projected"

    consumer = Consumer(queue, handle, group=GROUP, name="c1", concurrency=4)
    await run_until(consumer, done)

    assert handled[0] != "e1" and sorted(handled) == ["e1", "p1", "p2"]
    assert most == 1  # the repository's publications: one at a time


async def test_stop_lets_in_flight_events_finish(queue: Queue) -> None:
    await queue.publish(event("acme/shop", 1))
    started = asyncio.Event()
    finish = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        started.set()
        await finish.wait()
        return "projected"

    consumer = Consumer(queue, handle, group=GROUP, name="c1")
    task = asyncio.create_task(consumer.run(grace=30))
    await asyncio.wait_for(started.wait(), 30)
    consumer.stop()
    await asyncio.sleep(0)
    assert not task.done()
    finish.set()
    await asyncio.wait_for(task, 30)
    assert await queue.pending(GROUP) == 0


async def test_stop_cancels_after_the_grace_period_and_the_event_comes_back(
    queue: Queue,
) -> None:
    await queue.publish(event("acme/shop", 1))
    started = asyncio.Event()

    async def hang(e: RefUpdateEvent) -> str:
        started.set()
        await asyncio.Event().wait()
        return "projected"

    consumer = Consumer(queue, hang, group=GROUP, name="c1")
    task = asyncio.create_task(consumer.run(grace=0.05))
    await asyncio.wait_for(started.wait(), 30)
    consumer.stop()
    await asyncio.wait_for(task, 30)
    assert await queue.pending(GROUP) == 1  # not acked: redelivered to the next worker


async def test_keyed_locks_and_backoff() -> None:
    locks = KeyedLocks()
    async with locks.hold("a"):
        assert len(locks) == 1
    assert len(locks) == 0
    assert [backoff(n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    assert backoff(50) == 10.0
