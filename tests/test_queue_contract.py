"""One contract suite for every event queue backend, plus the URL factory.

Each test runs against the in-memory double, a SQLite file, real Redis and real NATS
JetStream (``tests/servers.py``: skipped on a laptop without them, a failure under CI).
Every test gets its own stream name and drops it afterwards. Redelivery tests use a short
``ack_wait``; tests that must *not* see redelivery use the 30 s default (or extend the lease).
Waiting is always "poll until a deadline"; the one fixed sleep is a lower bound (a lease has
certainly run out after it), never a hope that something happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitstore.backends.queue.base import Message, Queue
from gitstore.backends.queue.factory import open_queue, sqlite_path
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, Unavailable
from tests.servers import NATS_URL, REDIS_URL, require_server

BACKENDS = ["memory", "sqlite", "redis", "nats"]
SHORT = 0.5  # ack_wait of the redelivery tests, seconds
PATIENCE = 15.0  # upper bound for anything the tests wait on


@dataclass
class Target:
    """One backend under test: where it lives, and the queues a test opened on it."""

    name: str
    url: str
    stream: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:12]}")
    opened: list[Queue] = field(default_factory=list)

    async def open(self, ack_wait: float = 30.0) -> Queue:
        queue = await open_queue(self.url, stream=self.stream, ack_wait=ack_wait)
        self.opened.append(queue)
        return queue


@pytest.fixture(params=BACKENDS)
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    name = request.param
    if name == "memory":
        url = f"memory://{uuid.uuid4().hex}"
    elif name == "sqlite":
        url = f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    elif name == "redis":
        url = require_server(REDIS_URL, "Redis")
    else:
        url = require_server(NATS_URL, "NATS JetStream")
    target = Target(name, url)
    yield target
    for queue in target.opened:
        await queue.close()
    cleanup = await open_queue(url, stream=target.stream)
    await cleanup.drop()
    await cleanup.close()


async def collect(
    queue: Queue, group: str, consumer: str, count: int, *, ack: bool = True
) -> list[Message]:
    """Fetch until ``count`` messages arrived (or PATIENCE passed); ack them if asked."""
    got: list[Message] = []
    deadline = time.monotonic() + PATIENCE
    while len(got) < count and time.monotonic() < deadline:
        batch = await queue.fetch(group, consumer, max_messages=count - len(got), timeout=1.0)
        for message in batch:
            if ack:
                await queue.ack(group, message.id)
        got += batch
    return got


async def test_publish_returns_id_and_fetch_delivers_body_and_key(target: Target) -> None:
    queue = await target.open()
    before = time.time()
    message_id = await queue.publish(b"\x00payload\xff", key="acme/shop")
    assert isinstance(message_id, str) and message_id
    [message] = await collect(queue, "workers", "c1", 1, ack=False)
    assert message.id == message_id
    assert message.body == b"\x00payload\xff"
    assert message.key == "acme/shop"
    assert message.delivery_count == 1
    assert before - 5 <= message.published_at <= time.time() + 5


async def test_fetch_on_empty_stream_times_out_with_nothing(target: Target) -> None:
    queue = await target.open()
    assert await queue.fetch("workers", "c1", timeout=0.2) == []
    assert await queue.pending("workers") == 0


async def test_ack_removes_from_pending_and_is_idempotent(target: Target) -> None:
    queue = await target.open()
    ids = [await queue.publish(f"m{i}".encode()) for i in range(3)]
    assert await queue.pending("workers") == 3
    got = await collect(queue, "workers", "c1", 3, ack=False)
    assert [m.id for m in got] == ids
    assert await queue.pending("workers") == 3  # leased is still pending
    await queue.ack("workers", ids[0])
    assert await queue.pending("workers") == 2
    await queue.ack("workers", ids[0])  # twice: no-op
    assert await queue.pending("workers") == 2
    for message_id in ids[1:]:
        await queue.ack("workers", message_id)
    assert await queue.pending("workers") == 0
    assert await queue.fetch("workers", "c1", timeout=0.2) == []


async def test_leased_message_is_not_handed_to_another_consumer(target: Target) -> None:
    queue = await target.open()
    message_id = await queue.publish(b"one")
    [first] = await collect(queue, "workers", "c1", 1, ack=False)
    assert first.id == message_id
    assert await queue.fetch("workers", "c2", timeout=0.3) == []


async def test_unacked_message_is_redelivered_after_ack_wait(target: Target) -> None:
    queue = await target.open(ack_wait=SHORT)
    message_id = await queue.publish(b"work", key="k")
    [first] = await collect(queue, "workers", "hung", 1, ack=False)
    [again] = await collect(queue, "workers", "healthy", 1)
    assert (again.id, again.body, again.key) == (message_id, b"work", "k")
    assert again.delivery_count == first.delivery_count + 1 == 2
    assert await queue.pending("workers") == 0


async def test_extended_lease_outlives_several_ack_waits(target: Target) -> None:
    ack_wait = 1.0  # extended every third of it: two thirds of slack for a slow machine
    queue = await target.open(ack_wait=ack_wait)
    message_id = await queue.publish(b"long job")
    [first] = await collect(queue, "workers", "slow", 1, ack=False)
    results: list[bool] = []
    stop = asyncio.Event()

    async def keep_extending() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ack_wait / 3)
            if not stop.is_set():
                results.append(await queue.extend_lease("workers", first.id))

    extender = asyncio.create_task(keep_extending())
    try:
        stolen: list[Message] = []
        deadline = time.monotonic() + 3.5 * ack_wait
        while time.monotonic() < deadline and not stolen:
            stolen = await queue.fetch("workers", "other", timeout=0.2)
    finally:
        stop.set()
        await extender
    assert stolen == [], "an extended lease was handed to another consumer"
    assert len(results) >= 9 and all(results)
    await queue.ack("workers", first.id)
    assert await queue.extend_lease("workers", first.id) is False  # acked: nothing to extend
    assert await queue.pending("workers") == 0
    assert await queue.fetch("workers", "other", timeout=0.3) == []  # not resurrected
    assert first.id == message_id


async def test_lease_that_ran_out_is_not_extended_and_is_redelivered(target: Target) -> None:
    queue = await target.open(ack_wait=SHORT)
    message_id = await queue.publish(b"abandoned")
    [first] = await collect(queue, "workers", "slow", 1, ack=False)
    assert await queue.extend_lease("workers", first.id) is True
    await asyncio.sleep(SHORT * 1.5)  # a lower bound: the lease has certainly run out
    assert await queue.extend_lease("workers", first.id) is False
    [again] = await collect(queue, "workers", "other", 1)
    assert again.id == message_id
    assert again.delivery_count == 2


async def test_extend_lease_of_nacked_unknown_and_undelivered_ids_is_false(
    target: Target,
) -> None:
    queue = await target.open()
    leased_id = await queue.publish(b"one")
    waiting_id = await queue.publish(b"two")
    [first] = await collect(queue, "workers", "c1", 1, ack=False)
    assert first.id == leased_id
    assert await queue.extend_lease("workers", waiting_id) is False  # never delivered
    assert await queue.extend_lease("nobody", leased_id) is False  # group never used
    assert await queue.extend_lease("workers", leased_id) is True
    await queue.nack("workers", leased_id)
    assert await queue.extend_lease("workers", leased_id) is False  # given back
    again = {m.id: m.delivery_count for m in await collect(queue, "workers", "c2", 2)}
    assert again == {leased_id: 2, waiting_id: 1}


CRASHING_CONSUMER = """
import asyncio, os, sys
from gitstore.backends.queue.factory import open_queue

async def main() -> None:
    queue = await open_queue(sys.argv[1], stream=sys.argv[2], ack_wait=float(sys.argv[3]))
    messages = await queue.fetch("workers", f"doomed-{os.getpid()}", max_messages=1, timeout=20)
    print(messages[0].id if messages else "", flush=True)
    await asyncio.sleep(3600)  # never acks; the test kills us

asyncio.run(main())
"""


# The in-memory queue does not outlive its process, so it has no part in this one.
@pytest.mark.parametrize("target", ["sqlite", "redis", "nats"], indirect=True)
async def test_message_of_a_killed_consumer_process_is_redelivered(target: Target) -> None:
    queue = await target.open(ack_wait=SHORT)
    message_id = await queue.publish(b"survive me")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_CONSUMER,
        target.url,
        target.stream,
        str(SHORT),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert line.decode().strip() == message_id
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    [again] = await collect(queue, "workers", "survivor", 1)
    assert again.id == message_id and again.body == b"survive me"
    assert again.delivery_count == 2
    assert await queue.pending("workers") == 0


SHARING_CONSUMER = """
import asyncio, os, sys
from gitstore.backends.queue.factory import open_queue

async def main() -> None:
    queue = await open_queue(sys.argv[1], stream=sys.argv[2])
    await queue.pending("workers")  # the group exists before we say so
    print("ready", flush=True)
    while True:
        for message in await queue.fetch("workers", f"p{os.getpid()}", max_messages=2, timeout=0.5):
            await asyncio.sleep(0.03)  # some work
            await queue.ack("workers", message.id)
            print(message.id, flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("target", ["sqlite", "redis", "nats"], indirect=True)
async def test_consumer_processes_share_one_group(target: Target) -> None:
    publisher = await target.open()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SHARING_CONSUMER,
            target.url,
            target.stream,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    taken: list[list[str]] = [[] for _ in procs]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert await asyncio.wait_for(proc.stdout.readline(), timeout=60) == b"ready\n"
        ids = {await publisher.publish(f"m{i}".encode()) for i in range(60)}

        all_done = asyncio.Event()

        async def read(index: int, proc: asyncio.subprocess.Process) -> None:
            assert proc.stdout is not None
            while line := await proc.stdout.readline():
                taken[index].append(line.decode().strip())
                if sum(map(len, taken)) >= len(ids):
                    all_done.set()

        readers = [asyncio.create_task(read(i, p)) for i, p in enumerate(procs)]
        try:
            await asyncio.wait_for(all_done.wait(), timeout=60)
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    finally:
        for proc in procs:
            proc.kill()
            await proc.wait()
    every = [message_id for ids_of_one in taken for message_id in ids_of_one]
    assert len(every) == len(set(every)), "a message was processed by two processes"
    assert set(every) == ids
    assert all(taken), "one process took everything"
    assert await publisher.pending("workers") == 0


async def test_consumers_of_one_group_share_the_messages(target: Target) -> None:
    publisher = await target.open()
    ids = {await publisher.publish(f"m{i}".encode()) for i in range(50)}
    deliveries: list[tuple[str, str]] = []
    seen: set[str] = set()
    # Deterministic first round: each consumer takes a batch while the others still hold
    # theirs un-acked, so every consumer must get messages and no two the same ones. (Who
    # wins the concurrent drain below depends on scheduling and is not asserted.)
    held = []
    for i in range(3):
        queue = await target.open()
        batch = await queue.fetch("workers", f"c{i}", max_messages=4, timeout=PATIENCE)
        assert batch, f"consumer c{i} got nothing while the others held their leases"
        deliveries.extend((f"c{i}", message.id) for message in batch)
        seen.update(message.id for message in batch)
        held.append((queue, batch))
    for queue, batch in held:
        for message in batch:
            await queue.ack("workers", message.id)

    async def consume(name: str) -> None:
        queue = await target.open()
        deadline = time.monotonic() + PATIENCE
        while len(seen) < len(ids) and time.monotonic() < deadline:
            for message in await queue.fetch("workers", name, max_messages=4, timeout=0.3):
                deliveries.append((name, message.id))
                seen.add(message.id)
                await asyncio.sleep(0)  # let the others interleave
                await queue.ack("workers", message.id)

    await asyncio.gather(*(consume(f"c{i}") for i in range(3)))
    delivered = [message_id for _, message_id in deliveries]
    assert len(delivered) == len(set(delivered)), "a message went to two consumers"
    assert set(delivered) == ids
    assert {name for name, _ in deliveries} == {"c0", "c1", "c2"}
    assert await publisher.pending("workers") == 0


async def test_every_group_receives_every_message(target: Target) -> None:
    queue = await target.open()
    ids = [await queue.publish(f"m{i}".encode()) for i in range(5)]
    indexer = await collect(queue, "indexer", "c1", 5)
    projector = await collect(queue, "projector", "c1", 5)
    assert [m.id for m in indexer] == ids
    assert [m.id for m in projector] == ids
    assert await queue.pending("indexer") == await queue.pending("projector") == 0


async def test_nack_hands_the_message_back_at_once(target: Target) -> None:
    queue = await target.open(ack_wait=30.0)  # only a nack can bring it back within PATIENCE
    message_id = await queue.publish(b"retry me")
    [first] = await collect(queue, "workers", "c1", 1, ack=False)
    await queue.nack("workers", first.id)
    [again] = await collect(queue, "workers", "c2", 1)
    assert again.id == message_id
    assert again.delivery_count == 2


async def test_reopened_queue_keeps_unacked_messages(target: Target) -> None:
    first = await target.open(ack_wait=SHORT)
    ids = [await first.publish(f"m{i}".encode()) for i in range(3)]
    [done] = await collect(first, "workers", "c1", 1)
    [leased] = await collect(first, "workers", "c1", 1, ack=False)
    assert (done.id, leased.id) == (ids[0], ids[1])
    await first.close()

    second = await target.open(ack_wait=SHORT)
    assert await second.pending("workers") == 2
    rest = await collect(second, "workers", "c2", 2)
    assert sorted(m.id for m in rest) == sorted(ids[1:])
    assert await second.pending("workers") == 0


async def test_single_consumer_sees_publish_order(target: Target) -> None:
    queue = await target.open()
    bodies = [f"event-{i:02d}".encode() for i in range(20)]
    ids = [await queue.publish(body, key=f"repo-{i % 3}") for i, body in enumerate(bodies)]
    got: list[Message] = []
    deadline = time.monotonic() + PATIENCE
    while len(got) < len(bodies) and time.monotonic() < deadline:
        batch = await queue.fetch("workers", "c1", max_messages=7, timeout=1.0)
        for message in batch:
            await queue.ack("workers", message.id)
        got += batch
    assert [m.id for m in got] == ids
    assert [m.body for m in got] == bodies


async def test_bad_arguments_are_invalid_argument(target: Target) -> None:
    queue = await target.open()
    with pytest.raises(InvalidArgument, match="group"):
        await queue.fetch("bad group", "c1", timeout=0.1)
    with pytest.raises(InvalidArgument, match="consumer"):
        await queue.fetch("workers", "", timeout=0.1)
    with pytest.raises(InvalidArgument, match="max_messages"):
        await queue.fetch("workers", "c1", max_messages=0)
    with pytest.raises(InvalidArgument, match="message id"):
        await queue.ack("workers", "not-an-id")
    with pytest.raises(InvalidArgument, match="message id"):
        await queue.nack("workers", "../x")
    with pytest.raises(InvalidArgument, match="message id"):
        await queue.extend_lease("workers", "x-1")


async def test_closed_queue_refuses_work(target: Target) -> None:
    queue = await target.open()
    await queue.close()
    with pytest.raises(FailedPrecondition, match="closed"):
        await queue.publish(b"late")


# --- the factory -------------------------------------------------------------------------


async def test_unknown_scheme_is_invalid_argument_naming_the_url() -> None:
    with pytest.raises(InvalidArgument, match=r"kafka://broker:9092"):
        await open_queue("kafka://broker:9092")


async def test_bad_stream_name_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="stream"):
        await open_queue("memory://", stream="has.dots")
    with pytest.raises(InvalidArgument, match="ack_wait"):
        await open_queue("memory://", ack_wait=0)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "nats://127.0.0.1:1"])
async def test_unreachable_server_is_unavailable(url: str) -> None:
    with pytest.raises(Unavailable, match=re.escape("127.0.0.1:1")):
        await open_queue(url)


def test_sqlite_url_paths() -> None:
    assert sqlite_path("sqlite:///srv/data/q.sqlite3") == Path("/srv/data/q.sqlite3")
    assert sqlite_path("sqlite:////srv/data/q.sqlite3") == Path("/srv/data/q.sqlite3")
    assert sqlite_path("sqlite://data/q.sqlite3") == Path.cwd() / "data/q.sqlite3"
    assert sqlite_path("sqlite:data/q.sqlite3") == Path.cwd() / "data/q.sqlite3"
    for bad in ("sqlite://", "sqlite:///", "sqlite:///dir/"):
        with pytest.raises(InvalidArgument, match="must name a file"):
            sqlite_path(bad)


async def test_sqlite_creates_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "queue.sqlite3"
    async with await open_queue(f"sqlite://{path}") as queue:
        await queue.publish(b"x")
    assert path.is_file()


async def test_named_memory_queues_share_state_private_ones_do_not() -> None:
    name = uuid.uuid4().hex
    shared_a = await open_queue(f"memory://{name}", stream="s")
    shared_b = await open_queue(f"memory://{name}", stream="s")
    private = await open_queue("memory://", stream="s")
    await shared_a.publish(b"hello")
    assert await shared_b.pending("g") == 1
    assert await private.pending("g") == 0
    await shared_a.drop()
