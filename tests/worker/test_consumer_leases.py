"""A handler slower than ``ack_wait`` keeps its message: the consumer extends the lease.

Two consumers share one group on a real SQLite queue with a short ``ack_wait``; the handler
takes three times as long. With lease extension the event is handled once; when extending
fails (a queue whose ``extend_lease`` is unavailable) the failure is logged, the handler
still finishes, and - as before extension existed - the event is redelivered and handled
again (by whichever consumer fetches it first).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.sqlite import SqliteQueue
from gitstore.domain.errors import Unavailable
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.worker.consumer import Consumer, Handle

GROUP = "projector"
ACK_WAIT = 0.6


class UnextendableQueue(SqliteQueue):
    """A SQLite queue whose lease extension always fails (the server "is down")."""

    async def extend_lease(self, group: str, message_id: str) -> bool:
        raise Unavailable(f"extend_lease of {message_id} refused by the test")


def event(n: int) -> bytes:
    return RefUpdateEvent(
        f"e{n}", "acme/big", "refs/heads/main", ZERO_SHA, f"{n:040x}", timestamp=time.time()
    ).to_json()


async def handle_slow_event(path: Path, queue_class: type[SqliteQueue], expect: int) -> list[str]:
    """Publish one event, run two consumers until ``expect`` handler runs finished and the
    event is acked; return the consumers that ran the handler."""
    queues: list[Queue] = [
        await queue_class.open(path, stream="events", ack_wait=ACK_WAIT) for _ in range(2)
    ]
    runs: list[str] = []
    finished = 0
    done = asyncio.Event()
    try:
        await queues[0].publish(event(1), key="acme/big")

        def handler(name: str) -> Handle:
            async def handle(e: object) -> str:
                nonlocal finished
                runs.append(name)
                await asyncio.sleep(3 * ACK_WAIT)  # the slow projection
                finished += 1
                if finished >= expect:
                    done.set()
                return "projected"

            return handle

        consumers = [
            Consumer(q, handler(f"c{i}"), group=GROUP, name=f"c{i}", fetch_timeout=0.1)
            for i, q in enumerate(queues)
        ]
        tasks = [asyncio.create_task(c.run(grace=5.0)) for c in consumers]
        try:
            await asyncio.wait_for(done.wait(), 30)
            deadline = time.monotonic() + 10
            while await queues[0].pending(GROUP) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            for c in consumers:
                c.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        assert await queues[0].pending(GROUP) == 0
        return runs
    finally:
        for q in queues:
            await q.close()


async def test_handler_slower_than_ack_wait_runs_exactly_once(tmp_path: Path) -> None:
    runs = await handle_slow_event(tmp_path / "queue.sqlite3", SqliteQueue, expect=1)
    assert len(runs) == 1, f"the event was handled by {runs}"


async def test_failing_extension_is_logged_and_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runs = await handle_slow_event(tmp_path / "queue.sqlite3", UnextendableQueue, expect=2)
    assert len(runs) >= 2  # not extended: redelivered (to either consumer) and run again
    assert "cannot extend the lease of message 1 (extend_lease of 1 refused" in caplog.text
