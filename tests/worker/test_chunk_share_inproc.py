"""Shared chunks in one process (``worker/chunks.py``), for what the process tests cannot
steer: a work list too large for a queue message stays with the coordinator, and a plan of
fewer chunks than ``min_chunks`` is written alone, as before. Real git service, SQLite KV,
the in-memory queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from gitstore.backends.kv import KvStore
from gitstore.backends.queue.memory import MemoryQueue
from gitstore.git.client import GitClient
from gitstore.worker.chunk_helper import ChunkConsumer
from gitstore.worker.chunks import ChunkSharer
from gitstore.worker.projector import Projector
from tests.worker.harness import assert_kv_matches_head, commit, files_of, product

BATCH = 50


@contextlib.asynccontextmanager
async def pool(
    git: GitClient, kv: KvStore, queue: MemoryQueue, *, min_chunks: int = 3
) -> AsyncIterator[tuple[Projector, list[ChunkConsumer]]]:
    """A coordinator with a sharer and two helpers (projectors of their own) on ``queue``."""
    coordinator = Projector(git, kv, owner="coordinator", batch_size=BATCH)
    coordinator.sharer = ChunkSharer(queue, min_chunks=min_chunks, poll_interval=0.02)
    helpers = [
        ChunkConsumer(
            queue,
            Projector(git, kv, owner=f"helper-{i}", batch_size=BATCH),
            group="projector",
            name=f"helper-{i}",
            fetch_timeout=0.1,
        )
        for i in range(2)
    ]
    tasks = [asyncio.create_task(h.run(grace=1.0)) for h in helpers]
    try:
        yield coordinator, helpers
    finally:
        for h in helpers:
            h.stop()
        await asyncio.gather(*tasks)


async def test_helpers_write_the_shared_chunks_and_the_coordinator_finishes(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    await commit(git, repo, files_of(*(product(f"p{i:04d}") for i in range(400))))
    queue = MemoryQueue("events-chunks", ack_wait=5.0)
    async with pool(git, kv, queue) as (coordinator, helpers):
        result = await coordinator.project(repo)
    assert result.upserts == 400 and result.chunks == 8
    assert coordinator.sharer is not None
    assert sum(coordinator.sharer.helpers.values()) == 8
    assert set(coordinator.sharer.helpers) <= {"helper-0", "helper-1"}
    assert sum(h.outcomes.get("written", 0) for h in helpers) == 8
    await assert_kv_matches_head(kv, git, repo)


async def test_a_work_list_too_large_for_a_message_is_written_by_the_coordinator(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    short = [product(f"p{i:04d}") for i in range(300)]
    long = [product(f"z{i:03d}-{'x' * 55}") for i in range(50)]  # sorted last: one chunk
    await commit(git, repo, files_of(*short, *long))
    queue = MemoryQueue("events-chunks", ack_wait=5.0)
    queue.max_payload = 5_000  # 50 short entries: ~3.6 KB; 50 long ones: ~6.1 KB
    sizes = []
    async with pool(git, kv, queue) as (coordinator, _):
        original = queue.publish

        async def publish(body: bytes, *, key: str = "") -> str:
            sizes.append(len(body))
            return await original(body, key=key)

        queue.publish = publish  # type: ignore[method-assign]
        result = await coordinator.project(repo)
    assert result.upserts == 350
    assert sizes and all(size < 5_000 for size in sizes)  # what fits was still shared
    assert len(sizes) == 6 and result.chunks == 7  # the long chunk written by the coordinator
    await assert_kv_matches_head(kv, git, repo)


@pytest.mark.parametrize("count", [60, 100])  # 2 chunks of 50: below min_chunks (3)
async def test_fewer_chunks_than_min_chunks_are_written_alone(
    git: GitClient, kv: KvStore, repo: str, count: int
) -> None:
    await commit(git, repo, files_of(*(product(f"p{i:04d}") for i in range(count))))
    queue = MemoryQueue("events-chunks", ack_wait=5.0)
    async with pool(git, kv, queue) as (coordinator, helpers):
        result = await coordinator.project(repo)
    assert result.upserts == count and result.chunks == -(-count // BATCH)
    assert all(not h.outcomes for h in helpers)
    assert await queue.pending("projector") == 0
    await assert_kv_matches_head(kv, git, repo)
