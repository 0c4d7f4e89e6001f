"""A message whose handler keeps failing goes to the dead letters and never blocks others.

Runs the worker's ``Consumer`` on every queue backend (memory, SQLite, real Redis and NATS).
Before dead letters, a handler failing with a passing error was nacked and redelivered
forever, ahead of newer messages (and with ``concurrency=1`` nothing else was ever handled).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.domain.errors import InvalidArgument, Unavailable
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.worker.consumer import Consumer
from gitstore.worker.metrics import WorkerMetrics
from tests.servers import NATS_URL, REDIS_URL, require_server

GROUP = "projector"


@pytest.fixture(params=["memory", "sqlite", "redis", "nats"])
async def queue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Queue]:
    urls = {
        "memory": "memory://",
        "sqlite": f"sqlite:///{tmp_path}/queue.sqlite3",
        "redis": REDIS_URL,
        "nats": NATS_URL,
    }
    url = urls[request.param]
    if request.param in ("redis", "nats"):
        require_server(url, request.param)
    q = await open_queue(url, stream=f"dl-{uuid.uuid4().hex[:12]}", ack_wait=30.0)
    try:
        yield q
    finally:
        await q.drop()
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


def dead_lettered(metrics: WorkerMetrics, cause: str) -> float:
    value = metrics.registry.get_sample_value(
        "gitstore_worker_dead_lettered_total", {"cause": cause}
    )
    return value or 0.0


async def test_a_message_that_keeps_failing_is_dead_lettered_and_others_go_on(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    await queue.publish(event("acme/stuck", 1), key="acme/stuck")
    await queue.publish(event("acme/other", 2), key="acme/other")
    handled: list[str] = []
    broken = {"e1"}
    done = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        handled.append(e.event_id)
        if ("e2" in handled and handled.count("e1") >= 3) or len(handled) > 6:
            done.set()
        if e.event_id in broken:
            raise Unavailable("the git service cannot read this one")
        return "projected"

    metrics = WorkerMetrics()
    consumer = Consumer(
        queue,
        handle,
        group=GROUP,
        name="c1",
        metrics=metrics,
        concurrency=1,  # one slot: a message redelivered forever would starve e2
        max_deliveries=3,
        backoff_base=0.01,
    )
    with caplog.at_level(logging.ERROR, logger="gitstore.worker.consumer"):
        await run_until(consumer, done)

    # e1 gets exactly its budget of deliveries and e2 is handled once; in which order the
    # queue hands a redelivery and the next message to one slot is the backend's business
    assert sorted(handled) == ["e1", "e1", "e1", "e2"]
    assert await queue.pending(GROUP) == 0
    [letter] = await queue.dead_letters(GROUP)
    assert RefUpdateEvent.from_json(letter.body).event_id == "e1"
    assert letter.delivery_count == 3 and letter.key == "acme/stuck"
    assert "failed on delivery 3 of 3" in letter.reason and "cannot read this one" in letter.reason
    assert dead_lettered(metrics, "budget") == 1
    assert any(
        r.levelno == logging.ERROR and "dead-lettered event e1" in r.message for r in caplog.records
    )

    # fixed: the operator replays it, and it is handled once more
    broken.clear()
    handled.clear()
    done.clear()
    assert await queue.replay_dead_letter(GROUP, letter.id) is not None
    consumer = Consumer(queue, handle, group=GROUP, name="c1", metrics=metrics, concurrency=1)
    await run_until(consumer, done_after(done, handled, 1))
    assert handled == ["e1"]
    assert await queue.dead_letter_count(GROUP) == 0
    assert await queue.pending(GROUP) == 0


def done_after(done: asyncio.Event, handled: list[str], n: int) -> asyncio.Event:
    """``done`` (set by the handler only for e2): set it here once ``n`` events ran."""
    event_loop = asyncio.get_running_loop()

    def check() -> None:
        if len(handled) >= n:
            done.set()
        else:
            event_loop.call_later(0.01, check)

    check()
    return done


async def test_a_permanent_failure_is_dead_lettered_at_once(queue: Queue) -> None:
    await queue.publish(b"not an event", key="junk")
    await queue.publish(event("acme/shop", 1), key="acme/shop")
    await queue.publish(event("acme/shop", 2), key="acme/shop")
    done = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        if e.event_id == "e1":
            raise InvalidArgument("refused for good")
        done.set()
        return "projected"

    metrics = WorkerMetrics()
    consumer = Consumer(queue, handle, group=GROUP, name="c1", metrics=metrics, concurrency=1)
    await run_until(consumer, done)

    letters = await queue.dead_letters(GROUP)
    assert [d.body for d in letters] == [b"not an event", event_body_of(letters[1].body)]
    assert all(d.delivery_count == 1 for d in letters)
    assert "failed for good" in letters[1].reason and "refused for good" in letters[1].reason
    assert dead_lettered(metrics, "permanent") == 2
    assert await queue.pending(GROUP) == 0


def event_body_of(body: bytes) -> bytes:
    assert RefUpdateEvent.from_json(body).event_id == "e1"
    return body


async def test_a_message_whose_workers_died_is_dead_lettered_by_the_delivery_budget(
    queue: Queue,
) -> None:
    poison_id = await queue.publish(event("acme/crashy", 1), key="acme/crashy")
    for _ in range(3):  # three workers took it and died before acking (nack stands for that)
        got = await queue.fetch(GROUP, "dead-worker", timeout=5.0)
        assert [m.id for m in got] == [poison_id]
        await queue.nack(GROUP, poison_id)
    await queue.publish(event("acme/other", 2), key="acme/other")
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(e: RefUpdateEvent) -> str:
        handled.append(e.event_id)
        done.set()
        return "projected"

    consumer = Consumer(queue, handle, group=GROUP, name="c1", concurrency=1, max_deliveries=3)
    await run_until(consumer, done)
    assert handled == ["e2"]
    [letter] = await queue.dead_letters(GROUP)
    assert letter.message_id == poison_id and letter.delivery_count == 4
    assert "budget of 3" in letter.reason
