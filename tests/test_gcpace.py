"""gcpace: the young-generation GC threshold raised while chunks are prepared, then restored.

The threshold is per process, so every test restores it; the pool test runs the real
``prepare_many`` in the pool's thread and records the threshold it ran under.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from gitstore.domain.content import KindRegistry
from gitstore.gcpace import fewer_collections
from gitstore.worker import pool as pool_module
from gitstore.worker.pool import PreparePool
from tests.worker.harness import encode, path_of, product


@pytest.fixture(autouse=True)
def default_threshold() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def test_raised_inside_and_restored_after() -> None:
    with fewer_collections(50_000):
        assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("before", [100_000, 0], ids=["never-lowered", "switched-off-stays-off"])
def test_a_higher_or_switched_off_threshold_is_kept(before: int) -> None:
    gc.set_threshold(before, 10, 10)
    with fewer_collections(50_000):
        assert gc.get_threshold()[0] == before
    assert gc.get_threshold()[0] == before


def test_zero_or_negative_changes_nothing() -> None:
    for gen0 in (0, -5):
        with fewer_collections(gen0):
            assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_the_last_of_overlapping_users() -> None:
    entered, leave_first, seen = threading.Event(), threading.Event(), []

    def first() -> None:
        with fewer_collections(20_000):
            entered.set()
            leave_first.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(10)
    with fewer_collections(20_000):
        leave_first.set()
        thread.join(10)
        seen.append(gc.get_threshold()[0])  # the first user left; this one still runs
    assert seen == [20_000]
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError), fewer_collections(50_000):
        raise RuntimeError("boom")
    assert gc.get_threshold() == (700, 10, 10)


def test_pool_prepares_under_the_raised_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = pool_module.prepare_many

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold()[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(pool_module, "prepare_many", recording)
    files = [(path_of(product(f"p{i}")), f"{i:040x}", encode(product(f"p{i}"))) for i in range(3)]
    registry = KindRegistry.builtin()
    prepared = asyncio.run(PreparePool(0, gc_gen0=30_000).prepare(files, registry, max_bytes=10**6))
    assert [p.upsert is not None for p in prepared] == [True, True, True]
    off = asyncio.run(PreparePool(0, gc_gen0=0).prepare(files, registry, max_bytes=10**6))
    assert len(off) == 3
    assert seen == [30_000, 700]
    assert gc.get_threshold() == (700, 10, 10)
