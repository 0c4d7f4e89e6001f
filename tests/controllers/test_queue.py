"""The work queue on a real event loop: dedup, dirty keys, delays, backoff, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from gitstore.controllers.queue import QueueShutDown, WorkQueue


async def test_a_key_is_queued_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a", "b"):
        q.add(key)
    assert len(q) == 2
    assert [await q.get(), await q.get()] == ["a", "b"]


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # while "a" is processing: not handed to a second worker
    assert len(q) == 0
    q.done(key)
    assert len(q) == 1 and await q.get() == "a"


async def test_add_after_releases_the_key_later() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("later", 0.05)
    assert len(q) == 0 and q.depth == 1
    assert await asyncio.wait_for(q.get(), 5) == "later"


async def test_backoff_doubles_per_failure_up_to_the_cap_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.04, qps=1e6, burst=10**6)
    delays = [q.add_rate_limited("k") for _ in range(5)]
    assert delays == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert q.failures("k") == 5
    q.forget("k")
    assert q.failures("k") == 0 and q.add_rate_limited("k") == 0.01


async def test_the_token_bucket_delays_keys_beyond_the_burst() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.001, qps=10, burst=2)
    delays = [q.add_rate_limited(f"k{i}") for i in range(4)]
    assert delays[:2] == [0.001, 0.001]
    assert delays[2] > 0.05 and delays[3] > delays[2]


async def test_shutdown_wakes_waiting_getters() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.shut_down()
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(getter, 5)


@pytest.mark.parametrize(
    "kwargs", [{"base_delay": 0}, {"base_delay": 2, "max_delay": 1}, {"qps": 0}, {"burst": 0}]
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="need"):
        WorkQueue(**kwargs)  # type: ignore[arg-type]
