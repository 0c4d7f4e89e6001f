"""Benchmark: what following objects in and out of a label selection costs the watch cache.

In one process, the real ``WatchCache`` fed by the in-memory ``ResourceFeed`` (the watch
path's own CPU, no HTTP): ``--watchers`` watches, then ``--events`` changes that flip an
object's label each time, delivered to every watcher. Two kinds of round alternate, so load
from the rest of the machine hits both alike:

* ``selector``: every watch has ``labelSelector: tier=gold``; each change makes its object
  enter or leave the selection, so every change is judged on its labels before and after it
  and sent as ``ADDED`` or ``DELETED`` (the worst case of the rule: no change is dropped);
* ``stay``: the same selector, changes of the spec that keep the labels (``MODIFIED``: one
  match per change, what every change of a selector watch cost before the rule);
* ``floor``: the same watches without a selector, the same changes sent as ``MODIFIED``.

Figures: CPU microseconds per delivered event of each kind (median of the rounds),
``ratio_vs_floor`` (selector / floor; 1.0 = free) and ``ratio_vs_stay`` (selector / stay:
what judging both sides of a change adds). Run with ``PYTHONPATH=src``. Last line of stdout:
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from gitstore.api.watch.cache import WatchCache, WatchEvent
from gitstore.api.watch.memory import MemoryResourceFeed
from gitstore.domain.selectors import parse_selector

REPO = "bench/catalog"
OBJECTS = 50


async def _drain(events: Any, count: int) -> None:
    for _ in range(count):
        event: WatchEvent = await anext(events)
        assert event.type != "ERROR", event


async def round_of(kind: str, watchers: int, changes: int) -> float:
    """CPU microseconds per delivered event of one round."""
    feed = MemoryResourceFeed()
    for i in range(OBJECTS):
        feed.put(REPO, "Product", f"p{i}", labels={"tier": "gold"})
    cache = WatchCache(feed, watcher_buffer=changes + 10, bookmark_seconds=3600)
    selector = parse_selector("tier=gold") if kind != "floor" else None
    streams = [cache.watch(REPO, kind="Product", selector=selector) for _ in range(watchers)]
    await asyncio.gather(*(_drain(s, OBJECTS + 1) for s in streams))  # the list + BOOKMARK
    started = time.process_time()
    for n in range(changes):
        name, spec = f"p{n % OBJECTS}", {"n": n}
        if kind == "stay":  # labels kept: one match per change
            feed.put(REPO, "Product", name, spec, labels={"tier": "gold"})
        else:  # the label flips every time: in, out, in, ...
            tier = "silver" if (n // OBJECTS) % 2 == 0 else "gold"
            feed.put(REPO, "Product", name, spec, labels={"tier": tier})
    cache.poke(REPO, OBJECTS + changes)
    await asyncio.gather(*(_drain(s, changes) for s in streams))
    cpu = time.process_time() - started
    for s in streams:
        await s.aclose()
    await cache.close()
    return cpu * 1e6 / (watchers * changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    kinds = ["selector", "stay", "floor"]
    figures: dict[str, list[float]] = {kind: [] for kind in kinds}
    for r in range(args.rounds):
        for kind in kinds if r % 2 == 0 else kinds[::-1]:
            figures[kind].append(asyncio.run(round_of(kind, args.watchers, args.events)))
    selector, stay, floor = (statistics.median(figures[k]) for k in kinds)
    print(
        json.dumps(
            {
                "bench": "watch_selector",
                "watchers": args.watchers,
                "events": args.events,
                "rounds": args.rounds,
                "selector_cpu_us_per_event": round(selector, 3),
                "stay_cpu_us_per_event": round(stay, 3),
                "floor_cpu_us_per_event": round(floor, 3),
                "ratio_vs_floor": round(selector / floor, 3),
                "ratio_vs_stay": round(selector / stay, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
