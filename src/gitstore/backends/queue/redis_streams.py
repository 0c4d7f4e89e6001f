"""Redis (or Valkey) Streams backend: one stream key, one consumer group per group.

The stream is the key ``gitstore:queue:<stream>``; an entry holds the fields ``body`` and
``key``; its id (``<ms>-<seq>``, assigned by the server) is the message id and its ``<ms>``
part the publish time. Mapping of the contract onto stream commands:

* publish - ``XADD``; durable as far as the server persists (use ``appendonly yes`` with
  ``appendfsync always`` for strict durability; Redis < 7.2 has no ``WAITAOF``);
* group creation - ``XGROUP CREATE <key> <group> 0 MKSTREAM`` (from the beginning);
* fetch - first ``XAUTOCLAIM`` entries idle for at least ``ack_wait`` (expired leases; this
  bumps the delivery counter, read back with ``XPENDING``), then ``XREADGROUP ... >`` for new
  entries, blocking in slices so expiring leases are noticed while waiting;
* ack - ``XACK``; pending - the group's ``pending`` plus ``lag`` from ``XINFO GROUPS``;
* nack - ``XCLAIM ... IDLE <ack_wait> JUSTID`` to the current owner: the entry looks expired
  and is reclaimed by the next fetch, without counting a delivery twice;
* extend_lease - a Lua script (atomic): ``XPENDING`` for the entry; if it is pending and idle
  for less than ``ack_wait`` (a live lease), ``XCLAIM <owner> 0 <id> JUSTID`` resets its idle
  time to 0 without counting a delivery. Acked entries are not in the pending list and
  expired or nacked ones are idle for at least ``ack_wait``: neither is touched.

Dead letters of a group are entries of a second stream, ``gitstore:queue:<stream>:dead:<group>``
(fields ``message_id``, ``body``, ``key``, ``delivery_count``, ``published_at``, ``reason``,
``dead_at``); the dead-letter id is that entry's id. ``dead_letter`` is one ``MULTI``: ``XADD``
there and ``XACK`` in the group. ``replay_dead_letter`` reads the entry, then ``XADD``s the body
to the stream and ``XDEL``s the entry in one ``MULTI``.

By default entries are never trimmed (a later group starts at the beginning). With a
``Retention``, ``publish`` trims in the same round trip: ``XADD ... MAXLEN ~ <max_messages>``
(``~``: whole radix-tree nodes, so up to ~100 more entries stay) and, for ``max_age``,
``XTRIM MINID <now - max_age>`` (exact: an approximate one would never trim a small stream).
A trimmed entry still pending in a group is skipped by ``XAUTOCLAIM``
(Redis >= 7 drops it from the pending list then). ``drop`` deletes the key and the dead-letter
keys.

``group_idle_expiry``: each fetch records its group's last fetch time in the hash
``gitstore:queue:<stream>:seen`` (at most every tenth of the expiry per instance and group),
and at most as often a fetch sweeps: a group whose time is older than the expiry is destroyed
(``XGROUP DESTROY``, its dead-letter key and its hash field). A group missing from the hash
(made before expiry was on) gets the current time, so it has a full period to show up.
(``XINFO CONSUMERS`` idle times are no help: before Redis 7.2 an empty read does not reset
them, so a live consumer of a quiet stream would look idle.)
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis import exceptions as rexc

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
from gitstore.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    Unauthenticated,
    Unavailable,
)

_ID = re.compile(r"^\d+-\d+$")

# KEYS[1] stream; ARGV: group, id, ack_wait in ms. 1 = lease restarted, 0 = no live lease.
_EXTEND = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or tonumber(p[1][3]) >= tonumber(ARGV[3]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], p[1][2], 0, ARGV[2], 'JUSTID')
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _check_id(message_id: str) -> str:
    if not isinstance(message_id, str) or not _ID.match(message_id):
        raise InvalidArgument(f"invalid Redis stream message id {message_id!r}", field="message_id")
    return message_id


class RedisStreamsQueue(Queue):
    def __init__(
        self,
        client: aioredis.Redis,
        where: str,
        stream: str,
        ack_wait: float,
        retention: Retention = KEEP_ALL,
    ) -> None:
        self.stream = stream
        self.ack_wait = ack_wait
        self.retention = retention
        self.key = f"gitstore:queue:{stream}"
        self._client = client
        self._where = where
        self._groups: set[str] = set()
        self._closed = False
        self._idle_ms = max(1, int(ack_wait * 1000))
        self._swept_at = time.monotonic()
        self._touched: dict[str, float] = {}  # group -> monotonic time of our last record
        self.seen_key = f"{self.key}:seen"
        self._slice = min(1.0, max(0.05, ack_wait / 4))

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        stream: str = "gitstore-events",
        ack_wait: float = 30.0,
        retention: Retention = KEEP_ALL,
    ) -> RedisStreamsQueue:
        check_name("stream", stream)
        check_ack_wait(ack_wait)
        parts = urlsplit(url)
        where = f"{parts.hostname}:{parts.port or 6379}{parts.path}"
        try:
            client = aioredis.Redis.from_url(url, socket_connect_timeout=5)
        except ValueError as exc:
            raise InvalidArgument(f"invalid Redis URL {where!r}: {exc}", field="url") from exc
        queue = cls(client, where, stream, ack_wait, retention)
        try:
            async with queue._errors():
                await client.ping()
        except BaseException:
            await client.aclose()
            raise
        return queue

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        if self._closed:
            raise FailedPrecondition(f"queue {self.stream!r} is closed")
        try:
            yield
        except rexc.AuthenticationError as exc:
            raise Unauthenticated(f"Redis at {self._where} refused the credentials: {exc}") from exc
        except (rexc.ConnectionError, rexc.TimeoutError) as exc:
            raise Unavailable(f"Redis at {self._where} is unavailable: {exc}") from exc
        except rexc.ResponseError as exc:
            if str(exc).startswith("WRONGTYPE"):
                raise FailedPrecondition(
                    f"Redis key {self.key!r} at {self._where} is not a stream: {exc}"
                ) from exc
            raise Unavailable(f"Redis at {self._where} answered an error: {exc}") from exc
        except rexc.RedisError as exc:
            raise Unavailable(f"Redis at {self._where}: {exc}") from exc

    async def _ensure_group(self, group: str) -> None:
        if group in self._groups:
            return
        try:
            await self._client.xgroup_create(self.key, group, id="0", mkstream=True)
        except rexc.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add(group)

    async def _publish(self, body: bytes, *, key: str) -> str:
        fields: dict[Any, Any] = {"body": bytes(body), "key": key}
        r = self.retention
        async with self._errors():
            if not r.max_age:
                maxlen = r.max_messages or None
                return _text(await self._client.xadd(self.key, fields, maxlen=maxlen))
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(self.key, fields, maxlen=r.max_messages or None)
                oldest = int((time.time() - r.max_age) * 1000)
                pipe.xtrim(self.key, minid=f"{oldest}-0", approximate=False)
                new_id, _ = await pipe.execute()
            return _text(new_id)

    def _message(self, entry_id: Any, fields: dict[bytes, bytes], count: int) -> Message:
        mid = _text(entry_id)
        return Message(
            id=mid,
            body=fields.get(b"body", b""),
            key=fields.get(b"key", b"").decode(),
            delivery_count=count,
            published_at=int(mid.split("-")[0]) / 1000,
        )

    async def _reclaim(self, group: str, consumer: str, limit: int) -> list[Message]:
        entries: list[tuple[Any, dict[bytes, bytes]]] = []
        start: Any = "0-0"
        while len(entries) < limit:
            reply = await self._client.xautoclaim(
                self.key, group, consumer, self._idle_ms, start, count=limit - len(entries)
            )
            entries += [(eid, fields) for eid, fields in reply[1] if fields is not None]
            start = reply[0]
            if _text(start) == "0-0":
                break
        if not entries:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for eid, _ in entries:
                pipe.xpending_range(self.key, group, min=eid, max=eid, count=1)
            infos = await pipe.execute()
        counts = [info[0]["times_delivered"] if info else 1 for info in infos]
        return [self._message(e, f, c) for (e, f), c in zip(entries, counts, strict=True)]

    async def _read_new(
        self, group: str, consumer: str, limit: int, block: float | None
    ) -> list[Message]:
        block_ms = None if block is None else max(1, int(block * 1000))
        reply: Any = await self._client.xreadgroup(
            group, consumer, {self.key: ">"}, count=limit, block=block_ms
        )
        out = []
        for _stream, entries in reply or []:
            out += [self._message(eid, fields, 1) for eid, fields in entries]
        return out

    async def _fetch(
        self, group: str, consumer: str, *, max_messages: int, timeout: float
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        async with self._errors():
            await self._sweep(group)
            while True:
                try:
                    await self._ensure_group(group)
                    got = await self._reclaim(group, consumer, max_messages)
                    remaining = deadline - time.monotonic()
                    block = None if got or remaining <= 0 else min(remaining, self._slice)
                    if len(got) < max_messages:
                        got += await self._read_new(group, consumer, max_messages - len(got), block)
                except rexc.ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    self._groups.discard(group)  # the stream was dropped meanwhile
                    continue
                if got or time.monotonic() >= deadline:
                    return got

    async def _sweep(self, group: str) -> None:
        """Record ``group``'s fetch and destroy groups idle past the expiry (module doc)."""
        expiry = self.retention.group_idle_expiry
        if not expiry:
            return
        now = time.monotonic()
        if now - self._touched.get(group, -expiry) >= expiry / 10:
            self._touched[group] = now
            await self._client.hset(self.seen_key, group, str(int(time.time() * 1000)))
        if now - self._swept_at < expiry / 10:
            return
        self._swept_at = now
        try:
            groups = await self._client.xinfo_groups(self.key)
        except rexc.ResponseError:  # no stream yet
            return
        seen: dict[Any, Any] = await self._client.hgetall(self.seen_key)
        now_ms = int(time.time() * 1000)
        for info in groups:
            name = _text(info["name"])
            last = seen.get(name.encode())
            if last is None:
                await self._client.hsetnx(self.seen_key, name, str(now_ms))
            elif now_ms - int(last) > expiry * 1000:
                await self._client.xgroup_destroy(self.key, name)
                await self._client.delete(f"{self.key}:dead:{name}")
                await self._client.hdel(self.seen_key, name)
                self._groups.discard(name)
                self._touched.pop(name, None)

    async def ack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        async with self._errors():
            await self._client.xack(self.key, group, _check_id(message_id))

    async def nack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        mid = _check_id(message_id)
        async with self._errors():
            try:
                info = await self._client.xpending_range(self.key, group, mid, mid, 1)
            except rexc.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    return
                raise
            if info:
                owner = _text(info[0]["consumer"])
                await self._client.xclaim(
                    self.key, group, owner, 0, [mid], idle=self._idle_ms, justid=True
                )

    async def extend_lease(self, group: str, message_id: str) -> bool:
        check_name("group", group)
        mid = _check_id(message_id)
        async with self._errors():
            try:
                done: Any = await self._client.eval(_EXTEND, 1, self.key, group, mid, self._idle_ms)
            except rexc.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    return False
                raise
            return bool(done)

    def _dead_key(self, group: str) -> str:
        return f"{self.key}:dead:{check_name('group', group)}"

    async def dead_letter(self, group: str, message: Message, reason: str) -> None:
        dead = self._dead_key(group)
        fields: dict[Any, Any] = {
            "message_id": _check_id(message.id),
            "body": message.body,
            "key": message.key,
            "delivery_count": message.delivery_count,
            "published_at": repr(message.published_at),
            "reason": clip_reason(reason),
            "dead_at": repr(time.time()),
        }
        async with self._errors(), self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(dead, fields)
            pipe.xack(self.key, group, message.id)
            await pipe.execute()

    def _dead(self, entry_id: Any, f: dict[bytes, bytes]) -> DeadLetter:
        return DeadLetter(
            id=_text(entry_id),
            message_id=_text(f.get(b"message_id", b"")),
            body=f.get(b"body", b""),
            key=_text(f.get(b"key", b"")),
            delivery_count=int(f.get(b"delivery_count", b"0")),
            published_at=float(f.get(b"published_at", b"0")),
            reason=_text(f.get(b"reason", b"")),
            dead_at=float(f.get(b"dead_at", b"0")),
        )

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[DeadLetter]:
        check_limit(limit)
        async with self._errors():
            entries: Any = await self._client.xrange(self._dead_key(group), count=limit)
        return [self._dead(eid, fields) for eid, fields in entries]

    async def dead_letter_count(self, group: str) -> int:
        async with self._errors():
            return int(await self._client.xlen(self._dead_key(group)))

    async def replay_dead_letter(self, group: str, dead_id: str) -> str | None:
        dead, did = self._dead_key(group), _check_id(dead_id)
        async with self._errors():
            entries: Any = await self._client.xrange(dead, min=did, max=did, count=1)
            if not entries:
                return None
            letter = self._dead(*entries[0])
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xadd(self.key, {"body": letter.body, "key": letter.key})
                pipe.xdel(dead, did)
                new_id, _ = await pipe.execute()
            return _text(new_id)

    async def drop_dead_letter(self, group: str, dead_id: str) -> bool:
        dead, did = self._dead_key(group), _check_id(dead_id)
        async with self._errors():
            return bool(await self._client.xdel(dead, did))

    async def pending(self, group: str) -> int:
        check_name("group", group)
        async with self._errors():
            await self._ensure_group(group)
            for info in await self._client.xinfo_groups(self.key):
                if _text(info["name"]) != group:
                    continue
                lag = info.get("lag")
                if lag is None:  # unknown after deletions: count what lies past the cursor
                    last = _text(info["last-delivered-id"])
                    rest: Any = await self._client.xrange(self.key, min=f"({last}", max="+")
                    lag = len(rest)
                return int(info["pending"]) + int(lag)
            self._groups.discard(group)
            return await self.pending(group)

    async def drop(self) -> None:
        async with self._errors():
            dead = [k async for k in self._client.scan_iter(match=f"{self.key}:dead:*")]
            await self._client.delete(self.key, self.seen_key, *dead)
        self._groups.clear()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._client.aclose()
