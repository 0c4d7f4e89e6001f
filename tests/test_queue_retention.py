"""Bounded streams (``Retention``) on every queue backend, run for real like the contract suite.

The contract: the newest ``max_messages`` messages younger than ``max_age`` are kept and a
new group gets exactly those (plus at most the backend's slack, ``2 * max_messages + 100``
in all); older ones are gone for every group, leased or not.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from gitstore.backends.queue.base import Queue, Retention
from gitstore.backends.queue.factory import open_queue
from gitstore.domain.errors import InvalidArgument
from tests.test_queue_contract import PATIENCE, Target, target

__all__ = ["target"]  # the fixture, parametrised over every backend

LIMIT = 20
PUBLISHED = 400


async def drain(queue: Queue, group: str) -> list[bytes]:
    """Every message a group can get now (acked as they come)."""
    bodies: list[bytes] = []
    while True:
        batch = await queue.fetch(group, "c1", max_messages=100, timeout=0.5)
        if not batch:
            return bodies
        for message in batch:
            bodies.append(message.body)
            await queue.ack(group, message.id)


async def open_bounded(target: Target, retention: Retention, ack_wait: float = 30.0) -> Queue:
    queue = await open_queue(
        target.url, stream=target.stream, ack_wait=ack_wait, retention=retention
    )
    target.opened.append(queue)
    return queue


async def test_max_messages_keeps_the_newest_and_drops_the_rest(target: Target) -> None:
    queue = await open_bounded(target, Retention(max_messages=LIMIT))
    for n in range(PUBLISHED):
        await queue.publish(f"m{n:04d}".encode())
    got = await drain(queue, "late")
    assert LIMIT <= len(got) <= 2 * LIMIT + 100 < PUBLISHED
    # a contiguous tail, in order, ending with the newest message
    first = int(got[0][1:])
    assert got == [f"m{n:04d}".encode() for n in range(first, PUBLISHED)]


async def test_unbounded_stream_keeps_everything(target: Target) -> None:
    queue = await open_bounded(target, Retention())
    for n in range(PUBLISHED):
        await queue.publish(f"m{n:04d}".encode())
    got = await drain(queue, "late")
    assert len(got) == PUBLISHED


async def test_group_that_fell_behind_skips_trimmed_messages(target: Target) -> None:
    queue = await open_bounded(target, Retention(max_messages=LIMIT))
    await queue.publish(b"first")
    assert await queue.pending("slow") == 1  # the group exists, positioned at the start
    for n in range(PUBLISHED):
        await queue.publish(f"m{n:04d}".encode())
    got = await drain(queue, "slow")
    assert b"first" not in got
    assert got[-1] == f"m{PUBLISHED - 1:04d}".encode()
    assert len(got) <= 2 * LIMIT + 100


async def test_trimmed_lease_is_never_redelivered(target: Target) -> None:
    queue = await open_bounded(target, Retention(max_messages=LIMIT), ack_wait=0.5)
    await queue.publish(b"leased")
    leased = await queue.fetch("g", "c1", max_messages=1, timeout=5.0)
    assert [m.body for m in leased] == [b"leased"]
    for n in range(PUBLISHED):
        await queue.publish(f"m{n:04d}".encode())
    await asyncio.sleep(0.6)  # the lease has certainly run out
    got = await drain(queue, "g")
    assert b"leased" not in got
    assert got and got[-1] == f"m{PUBLISHED - 1:04d}".encode()
    await queue.ack("g", leased[0].id)  # a no-op, not an error


async def test_max_age_drops_old_messages(target: Target) -> None:
    queue = await open_bounded(target, Retention(max_age=1.0))
    for n in range(5):
        await queue.publish(f"old{n}".encode())
    await asyncio.sleep(1.2)  # older than max_age now, certainly
    got: list[bytes] = []
    deadline = time.monotonic() + PATIENCE
    # trimming happens on the next publish (memory and SQLite also on fetch; JetStream on
    # its own timer): publish fresh messages until the old ones are gone for a new group
    n = 0
    while time.monotonic() < deadline:
        await queue.publish(f"new{n}".encode())
        n += 1
        got = await drain(queue, f"late{n}")
        if not any(body.startswith(b"old") for body in got):
            break
        await asyncio.sleep(0.2)
    assert got and not any(body.startswith(b"old") for body in got)
    assert got[-1] == f"new{n - 1}".encode()


def test_bad_retention_is_invalid_argument_naming_the_field() -> None:
    with pytest.raises(InvalidArgument, match="max_messages"):
        Retention(max_messages=-1)
    with pytest.raises(InvalidArgument, match="max_age"):
        Retention(max_age=-0.5)


async def test_idle_groups_expire_and_live_ones_stay(target: Target) -> None:
    queue = await open_bounded(target, Retention(group_idle_expiry=1.0))
    await queue.publish(b"m1")
    for group in ("gone", "live"):
        got = await queue.fetch(group, "c1", max_messages=1, timeout=5.0)
        assert [m.body for m in got] == [b"m1"]
        await queue.ack(group, got[0].id)
    # "live" keeps fetching for three expiry periods (and never sees m1 again: its position
    # is kept); "gone" is left idle
    until = time.monotonic() + 3.0
    while time.monotonic() < until:
        assert await queue.fetch("live", "c1", max_messages=1, timeout=0.2) == []
    # "gone" was deleted: fetching it creates it again at the start of the stream
    again: list[bytes] = []
    deadline = time.monotonic() + PATIENCE
    while not again and time.monotonic() < deadline:
        again = [m.body for m in await queue.fetch("gone", "c1", max_messages=1, timeout=0.5)]
    assert again == [b"m1"]
    assert await queue.fetch("live", "c1", max_messages=1, timeout=0.2) == []


async def test_groups_never_expire_by_default(target: Target) -> None:
    queue = await open_bounded(target, Retention(max_messages=LIMIT))
    await queue.publish(b"m1")
    got = await queue.fetch("idle", "c1", max_messages=1, timeout=5.0)
    await queue.ack("idle", got[0].id)
    until = time.monotonic() + 1.5
    while time.monotonic() < until:
        await queue.fetch("other", "c1", max_messages=1, timeout=0.2)
    assert await queue.fetch("idle", "c1", max_messages=1, timeout=0.5) == []
