"""The watch cache on its own (the in-memory feed as a unit-test double): ordering across the
initial list, the window and the store, the cache falling behind the store, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gitstore.api.watch.cache import WatchCache, WatchEvent
from gitstore.api.watch.memory import MemoryResourceFeed
from gitstore.domain.selectors import parse_selector

REPO = "ns/repo"


async def _take(events: AsyncIterator[WatchEvent], count: int) -> list[WatchEvent]:
    return [await asyncio.wait_for(anext(events), 10) for _ in range(count)]


def test_list_then_changes_filtered_by_kind_and_labels() -> None:
    async def go() -> None:
        feed = MemoryResourceFeed()
        feed.put(REPO, "Product", "a", labels={"tier": "gold"})
        feed.put(REPO, "Product", "b")
        feed.put(REPO, "Category", "c", labels={"tier": "gold"})
        cache = WatchCache(feed)
        events = cache.watch(REPO, kind="Product", selector=parse_selector("tier=gold"))
        first = await _take(events, 2)
        assert [(e.type, e.resource_version) for e in first] == [("ADDED", 1), ("BOOKMARK", 3)]
        feed.put(REPO, "Product", "b", labels={"tier": "gold"})  # 4: now matches
        feed.put(REPO, "Category", "c", labels={"tier": "gold"})  # 5: other kind
        feed.put(REPO, "Product", "a", labels={"tier": "gold"})  # 6
        cache.poke(REPO, 6)
        got = await _take(events, 2)
        # b starts matching: ADDED (Kubernetes' semantics), a stays in: MODIFIED
        assert [(e.type, e.resource_version) for e in got] == [("ADDED", 4), ("MODIFIED", 6)]
        await events.aclose()
        assert cache.watcher_count == 0
        await cache.close()

    asyncio.run(go())


def test_a_cache_that_falls_behind_the_store_expires_its_watchers() -> None:
    async def go() -> None:
        feed = MemoryResourceFeed(retain=10)
        feed.put(REPO, "Product", "a")
        cache = WatchCache(feed)
        events = cache.watch(REPO, resource_version=1)
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.05)
        for i in range(30):  # no pokes while the store drops what the cache never read
            feed.put(REPO, "Product", f"p{i}")
        cache.poke(REPO, 31)
        event = await asyncio.wait_for(waiting, 10)
        assert (event.type, event.resource_version) == ("EXPIRED", 21)
        assert cache.watcher_count == 0
        await cache.close()

    asyncio.run(go())


def test_close_ends_watches_with_unavailable_naming_the_version() -> None:
    async def go() -> None:
        feed = MemoryResourceFeed()
        feed.put(REPO, "Product", "a")
        cache = WatchCache(feed)
        events = cache.watch(REPO, resource_version=0)
        assert (await _take(events, 1))[0].resource_version == 1
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.05)
        await cache.close()
        event = await asyncio.wait_for(waiting, 10)
        assert event.type == "ERROR"
        assert event.error is not None and event.error.code == "UNAVAILABLE"
        assert "resourceVersion 1" in event.error.message

    asyncio.run(go())


def test_objects_leaving_and_entering_the_selection_live_and_on_resume() -> None:
    async def go() -> None:
        feed = MemoryResourceFeed()
        feed.put(REPO, "Product", "a", labels={"tier": "gold"})  # 1
        feed.put(REPO, "Product", "b")  # 2
        cache = WatchCache(feed)
        gold = parse_selector("tier=gold")
        events = cache.watch(REPO, kind="Product", selector=gold)
        assert [e.type for e in await _take(events, 2)] == ["ADDED", "BOOKMARK"]
        feed.put(REPO, "Product", "a", labels={"tier": "silver"})  # 3: leaves
        feed.put(REPO, "Product", "a", {"x": 1}, labels={"tier": "silver"})  # 4: still out
        feed.put(REPO, "Product", "b", labels={"tier": "gold"})  # 5: enters
        feed.delete(REPO, "Product", "a")  # 6: deleted while out: nothing
        feed.delete(REPO, "Product", "b")  # 7: deleted while in
        cache.poke(REPO, 7)
        got = [(e.type, e.resource_version) for e in await _take(events, 3)]
        assert got == [("DELETED", 3), ("ADDED", 5), ("DELETED", 7)]
        left = await _take(cache.watch(REPO, kind="Product", selector=gold, resource_version=2), 3)
        assert [(e.type, e.resource_version) for e in left] == got  # resumed from the window
        # the DELETED of an object leaving carries it as it is now (no longer matching)
        assert left[0].object is not None
        assert left[0].object["metadata"]["labels"] == {"tier": "silver"}
        small = WatchCache(feed, window=1)  # a resume older than its window: the store's log
        from_store = small.watch(REPO, kind="Product", selector=gold, resource_version=2)
        assert [(e.type, e.resource_version) for e in await _take(from_store, 3)] == got
        await from_store.aclose()
        await small.close()
        everything = await _take(cache.watch(REPO, kind="Product", resource_version=2), 5)
        assert [e.type for e in everything] == [
            "MODIFIED",
            "MODIFIED",
            "MODIFIED",
            "DELETED",
            "DELETED",
        ]  # without a selector nothing is translated
        await events.aclose()
        await cache.close()

    asyncio.run(go())
