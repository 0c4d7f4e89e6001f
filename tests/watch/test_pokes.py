"""The poke reader survives what it cannot map: an unexpected exception from the queue is
logged and retried, not the end of every later poke (unit test: in-memory queue and feed as
doubles; the real backends are in tests/api_resources/test_poke_stream.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from gitstore.api.watch.cache import WatchCache
from gitstore.api.watch.memory import MemoryResourceFeed
from gitstore.api.watch.pokes import PokeConsumer
from gitstore.backends.queue.base import Message
from gitstore.backends.queue.memory import MemoryQueue
from gitstore.domain.events import ResourceChangedEvent

REPO = "ns/repo"


class FlakyQueue(MemoryQueue):
    """Raises something that is no GitStoreError on its first fetch."""

    failures = 1

    async def fetch(self, *args: Any, **kwargs: Any) -> list[Message]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("connection reset by a library that maps nothing")
        return await super().fetch(*args, **kwargs)


def test_the_reader_outlives_an_unexpected_error() -> None:
    async def go() -> None:
        feed = MemoryResourceFeed()
        cache = WatchCache(feed, bookmark_seconds=3600)  # no tick to mask a lost reader
        queue = FlakyQueue("resources")
        consumer = PokeConsumer(queue, cache, "g")
        consumer.start()
        events = cache.watch(REPO)
        assert (await asyncio.wait_for(anext(events), 10)).type == "BOOKMARK"
        change = feed.put(REPO, "Product", "a")
        await queue.publish(ResourceChangedEvent(REPO, change.resource_version).to_json())
        got = await asyncio.wait_for(anext(events), 10)
        assert (got.type, got.resource_version) == ("ADDED", 1)
        assert queue.failures == 0
        await events.aclose()
        await consumer.stop()
        await cache.close()

    asyncio.run(go())
