"""Benchmark: ``KvStore.copy_step`` — filling a draft buffer with a copy of another.

Per backend (``--backends sqlite,redis``): a source scope of ``--documents`` products (~900
bytes of JSON, six index entries each, like the catalogue's) is written with batches, then
copied twice into a target scope in steps of ``--limit`` documents: into an empty target
(the first large commit of a repository) and over a full one (a standby far behind: its rows
are removed first). Reported: seconds and documents/s of each copy, steps, the longest step
(SQLite: the longest the write lock was held at a stretch), and the floor: ``raw_bulk_set``
of the same bodies in the same run (copy docs/s over floor docs/s). SQLite runs on a temp
file; Redis on ``--redis-url`` with a unique key prefix, deleted afterwards. Last stdout line:
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from gitstore.backends.kv import Batch, KvStore, open_kv_store
from gitstore.backends.kv.base import COPY_START
from gitstore.backends.kv.redis import RedisKvStore
from gitstore.domain.keys import ChannelScope

SOURCE = ChannelScope("bench/copy", "draft-b")
TARGET = ChannelScope("bench/copy", "draft")
KEEP = "gitstore.projection"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--limit", type=int, default=2000, help="documents per step (2000)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    return parser.parse_args(argv)


async def fill(kv: KvStore, n: int) -> list[tuple[str, bytes]]:
    body = {"spec": {"title": "x" * 800}}
    bodies: list[tuple[str, bytes]] = []
    for start in range(0, n, 2000):
        batch = Batch(SOURCE, 1, "a" * 40)
        for i in range(start, min(n, start + 2000)):
            c, k = f"c{i % 50}", f"k{i % 20}"
            batch.upsert(
                "product",
                f"p{i:07d}",
                body,
                indexes={
                    "category": [c],
                    "collection": [k],
                    "handle": [f"p{i}"],
                    "status": ["active"],
                    "category-status": [f"{c}|active"],
                    "collection-status": [f"{k}|active"],
                },
            )
        bodies += [(f"bench:copy:{u.name}", u.body) for u in batch.upserts]
        await kv.apply(batch)
    return bodies


async def copy(kv: KvStore, limit: int) -> dict[str, Any]:
    started, cursor, steps, longest, copied = time.perf_counter(), COPY_START, 0, 0.0, 0
    while cursor is not None:
        step_started = time.perf_counter()
        step = await kv.copy_step(
            SOURCE,
            TARGET,
            cursor=cursor,
            sequence=2,
            expected_head_sequence=2,
            keep_kind=KEEP,
            limit=limit,
        )
        longest = max(longest, time.perf_counter() - step_started)
        cursor, steps, copied = step.cursor, steps + 1, copied + step.copied
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "docs_per_s": round(copied / seconds, 1),
        "steps": steps,
        "longest_step_ms": round(longest * 1000, 1),
    }


async def run_backend(name: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    prefix = f"bench-kv-copy-{uuid.uuid4().hex[:10]}:"
    url = f"sqlite:///{scratch / 'kv.sqlite3'}" if name == "sqlite" else args.redis_url
    kv = await open_kv_store(url if name == "sqlite" else f"{url}?prefix={prefix}")
    try:
        started = time.perf_counter()
        bodies = await fill(kv, args.documents)
        fill_seconds = time.perf_counter() - started
        await kv.apply(Batch(TARGET, 2, "0" * 40))  # the target's claim: head at 2
        empty = await copy(kv, args.limit)
        full = await copy(kv, args.limit)
        started = time.perf_counter()
        await kv.raw_bulk_set(bodies)
        floor = time.perf_counter() - started
        await kv.raw_bulk_delete([key for key, _ in bodies])
        floor_rate = len(bodies) / floor
        return {
            "fill_by_batches_seconds": round(fill_seconds, 3),
            "copy_into_empty": empty,
            "copy_over_full": full,
            "floor_raw_bulk_set_docs_per_s": round(floor_rate, 1),
            "copy_into_empty_over_floor": round(empty["docs_per_s"] / floor_rate, 3),
        }
    finally:
        if isinstance(kv, RedisKvStore):
            keys = [k async for k in kv.client.scan_iter(match=f"{prefix}*", count=10_000)]
            for start in range(0, len(keys), 1000):
                await kv.client.delete(*keys[start : start + 1000])
        await kv.close()


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {"benchmark": "kv_copy", "documents": args.documents}
    with tempfile.TemporaryDirectory(prefix="bench-kv-copy-") as scratch:
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            results[name] = await run_backend(name, args, Path(scratch))
            print(f"{name}: {results[name]}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
