"""The background poke publisher (``backends.resources.announcer``): coalescing per
repository, flush on close, retry after a queue failure. A real SQLite queue; the failing
queue is the in-memory one refusing its first publishes (a unit-test double)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.backends.queue.memory import MemoryQueue
from gitstore.backends.resources import Announcer
from gitstore.domain.errors import Unavailable
from gitstore.domain.events import ResourceChangedEvent


async def pokes(queue: Queue, group: str = "g") -> list[tuple[str, int]]:
    got = await queue.fetch(group, "c", max_messages=1000, timeout=0.2)
    out = []
    for message in got:
        event = ResourceChangedEvent.from_json(message.body)
        out.append((event.repository_id, int(event.resource_version)))
        await queue.ack(group, message.id)
    return out


async def test_the_newest_version_of_every_repository_goes_out(tmp_path: Path) -> None:
    queue = await open_queue(f"sqlite:///{tmp_path / 'q.sqlite3'}", stream="resources")
    announcer = Announcer(queue)
    announcer.start()
    for version in range(1, 51):
        announcer.announce("acme/a", version)
    announcer.announce("acme/b", 7)
    announcer.announce("acme/b", 3)  # older than what is pending: ignored
    deadline = time.monotonic() + 10
    while announcer.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    got = await pokes(queue)
    await announcer.close()
    await queue.close()
    newest = {}
    for repository, version in got:
        assert version > newest.get(repository, 0)  # increasing per repository
        newest[repository] = version
    assert newest == {"acme/a": 50, "acme/b": 7}
    assert len(got) < 51  # coalesced: fewer pokes than writes


async def test_close_flushes_what_is_pending(tmp_path: Path) -> None:
    queue = await open_queue(f"sqlite:///{tmp_path / 'q.sqlite3'}", stream="resources")
    announcer = Announcer(queue)
    announcer.start()
    announcer.announce("acme/a", 4)
    await announcer.close()  # at once: the background task had no turn yet
    assert await pokes(queue) == [("acme/a", 4)]
    await queue.close()


class Flaky(MemoryQueue):
    """A memory queue that refuses its first ``failures`` publishes."""

    def __init__(self, failures: int) -> None:
        super().__init__("resources")
        self.failures = failures

    async def _publish(self, body: bytes, *, key: str) -> str:
        if self.failures:
            self.failures -= 1
            raise Unavailable("queue down (test)")
        return await super()._publish(body, key=key)


async def test_a_failed_publish_is_retried() -> None:
    queue = Flaky(failures=2)
    announcer = Announcer(queue)
    announcer.start()
    announcer.announce("acme/a", 9)
    deadline = time.monotonic() + 10
    while announcer.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert announcer.pending == 0
    assert await pokes(queue) == [("acme/a", 9)]
    await announcer.close()
    await queue.close()
