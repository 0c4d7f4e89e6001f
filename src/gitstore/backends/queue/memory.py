"""In-process queue: the reference implementation of the contract and the unit-test double.

State lives in a ``MemoryBroker`` (a dict of streams); every ``MemoryQueue`` opened on the
same broker and stream name shares the messages, groups and leases, so a "reopened" queue
keeps what was not acked - as long as the process lives. Nothing is written to disk.

``open_queue("memory://")`` gives a private broker; ``open_queue("memory://name")`` the
process-wide broker called ``name`` (handy when a git service and a worker run in one
process or one test).

Retention (``base.Retention``) trims the front of the list on publish and fetch: ``base``
counts the messages trimmed so far (the seq of ``messages[i]`` is ``base + i + 1``), and
leases of trimmed messages are dropped.

Leases use the monotonic clock. ``fetch`` sleeps on a future that ``publish``/``nack`` wake,
or until the next lease expires, or until ``timeout``. Ids are decimal sequence numbers per
stream, starting at 1. Single event loop, no threads: every method runs to completion
between awaits, so no locking is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import ClassVar

from gitstore.backends.queue.base import (
    KEEP_ALL,
    DeadLetter,
    Message,
    Queue,
    Retention,
    check_ack_wait,
    check_limit,
    check_name,
    clip_reason,
)
from gitstore.domain.errors import FailedPrecondition, InvalidArgument


@dataclass(slots=True)
class _Lease:
    consumer: str
    deadline: float  # monotonic; 0 = released (nacked), deliver at once
    delivery_count: int


@dataclass(slots=True)
class _Group:
    cursor: int = 0  # messages[:cursor] have been delivered at least once
    unacked: dict[int, _Lease] = field(default_factory=dict)  # seq -> lease
    dead: dict[int, DeadLetter] = field(default_factory=dict)  # seq -> dead letter
    touched: float = field(default_factory=time.monotonic)  # last fetch (group expiry)


@dataclass(slots=True)
class _Stream:
    messages: list[tuple[bytes, str, float]] = field(default_factory=list)  # seq = base+index+1
    base: int = 0  # messages trimmed from the front (retention)
    groups: dict[str, _Group] = field(default_factory=dict)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def group(self, name: str) -> _Group:
        return self.groups.setdefault(name, _Group())

    def trim(self, retention: Retention) -> None:
        drop = 0
        if retention.max_messages and len(self.messages) > retention.max_messages:
            drop = len(self.messages) - retention.max_messages
        if retention.max_age:
            cutoff = time.time() - retention.max_age
            while drop < len(self.messages) and self.messages[drop][2] < cutoff:
                drop += 1
        if not drop:
            return
        del self.messages[:drop]
        self.base += drop
        for group in self.groups.values():
            for seq in [s for s in group.unacked if s <= self.base]:
                del group.unacked[seq]

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for fut in waiters:
            if not fut.done():
                with contextlib.suppress(RuntimeError):  # that loop is closed
                    fut.get_loop().call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class MemoryBroker:
    """Holds in-memory streams by name. ``MemoryBroker.named(x)`` is process-wide."""

    _registry: ClassVar[dict[str, MemoryBroker]] = {}

    def __init__(self) -> None:
        self.streams: dict[str, _Stream] = {}

    @classmethod
    def named(cls, name: str) -> MemoryBroker:
        return cls._registry.setdefault(name, cls())


def parse_id(message_id: str) -> int:
    """Decimal sequence ids (memory and SQLite backends)."""
    if not isinstance(message_id, str) or not message_id.isdigit() or int(message_id) < 1:
        raise InvalidArgument(f"invalid message id {message_id!r}", field="message_id")
    return int(message_id)


class MemoryQueue(Queue):
    def __init__(
        self,
        stream: str = "gitstore-events",
        *,
        ack_wait: float = 30.0,
        broker: MemoryBroker | None = None,
        retention: Retention = KEEP_ALL,
    ) -> None:
        self.stream = check_name("stream", stream)
        self.retention = retention
        self.ack_wait = check_ack_wait(ack_wait)
        self._broker = broker if broker is not None else MemoryBroker()
        self._closed = False

    def _state(self) -> _Stream:
        if self._closed:
            raise FailedPrecondition(f"queue {self.stream!r} is closed")
        return self._broker.streams.setdefault(self.stream, _Stream())

    async def _publish(self, body: bytes, *, key: str) -> str:
        state = self._state()
        state.messages.append((bytes(body), key, time.time()))
        seq = state.base + len(state.messages)
        state.trim(self.retention)
        state.wake()
        return str(seq)

    def _claim(self, state: _Stream, group: _Group, consumer: str, limit: int) -> list[Message]:
        state.trim(self.retention)
        group.cursor = max(group.cursor, state.base)
        now = time.monotonic()
        seqs = sorted(s for s, lease in group.unacked.items() if lease.deadline <= now)[:limit]
        for seq in seqs:
            lease = group.unacked[seq]
            group.unacked[seq] = _Lease(consumer, now + self.ack_wait, lease.delivery_count + 1)
        while len(seqs) < limit and group.cursor < state.base + len(state.messages):
            group.cursor += 1
            seqs.append(group.cursor)
            group.unacked[group.cursor] = _Lease(consumer, now + self.ack_wait, 1)
        out = []
        for seq in seqs:
            body, key, published_at = state.messages[seq - state.base - 1]
            count = group.unacked[seq].delivery_count
            out.append(Message(str(seq), body, key, count, published_at))
        return out

    async def _fetch(
        self, group: str, consumer: str, *, max_messages: int, timeout: float
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            state = self._state()
            grp = state.group(group)
            grp.touched = time.monotonic()
            expiry = self.retention.group_idle_expiry
            if expiry:
                for name in [
                    n for n, g in state.groups.items() if grp.touched - g.touched > expiry
                ]:
                    del state.groups[name]
            got = self._claim(state, grp, consumer, max_messages)
            now = time.monotonic()
            if got or now >= deadline:
                return got
            wait = deadline - now
            if grp.unacked:
                wait = min(wait, max(0.0, min(le.deadline for le in grp.unacked.values()) - now))
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            state.waiters.append(fut)
            try:
                await asyncio.wait_for(fut, timeout=wait + 0.001)
            except TimeoutError:
                pass
            finally:
                if fut in state.waiters:
                    state.waiters.remove(fut)

    async def ack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        seq = parse_id(message_id)
        self._state().group(group).unacked.pop(seq, None)

    async def nack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        seq = parse_id(message_id)
        state = self._state()
        lease = state.group(group).unacked.get(seq)
        if lease is not None:
            lease.deadline = 0.0
            state.wake()

    async def extend_lease(self, group: str, message_id: str) -> bool:
        check_name("group", group)
        seq = parse_id(message_id)
        lease = self._state().group(group).unacked.get(seq)
        now = time.monotonic()
        if lease is None or lease.deadline <= now:  # acked/unknown, nacked or expired
            return False
        lease.deadline = now + self.ack_wait
        return True

    async def dead_letter(self, group: str, message: Message, reason: str) -> None:
        check_name("group", group)
        seq = parse_id(message.id)
        grp = self._state().group(group)
        grp.dead[seq] = DeadLetter(
            id=str(seq),
            message_id=message.id,
            body=message.body,
            key=message.key,
            delivery_count=message.delivery_count,
            published_at=message.published_at,
            reason=clip_reason(reason),
            dead_at=time.time(),
        )
        grp.unacked.pop(seq, None)

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[DeadLetter]:
        check_name("group", group)
        check_limit(limit)
        dead = self._state().group(group).dead
        return [dead[seq] for seq in sorted(dead)[:limit]]

    async def dead_letter_count(self, group: str) -> int:
        check_name("group", group)
        return len(self._state().group(group).dead)

    async def replay_dead_letter(self, group: str, dead_id: str) -> str | None:
        check_name("group", group)
        seq = parse_id(dead_id)
        letter = self._state().group(group).dead.get(seq)
        if letter is None:
            return None
        new_id = await self.publish(letter.body, key=letter.key)
        self._state().group(group).dead.pop(seq, None)
        return new_id

    async def drop_dead_letter(self, group: str, dead_id: str) -> bool:
        check_name("group", group)
        return self._state().group(group).dead.pop(parse_id(dead_id), None) is not None

    async def pending(self, group: str) -> int:
        check_name("group", group)
        state = self._state()
        state.trim(self.retention)
        grp = state.group(group)
        grp.cursor = max(grp.cursor, state.base)
        return state.base + len(state.messages) - grp.cursor + len(grp.unacked)

    async def drop(self) -> None:
        state = self._broker.streams.pop(self.stream, None)
        if state is not None:
            state.wake()

    async def close(self) -> None:
        self._closed = True
