"""NATS JetStream backend: a stream per queue, a durable pull consumer per group.

* The JetStream stream is named after the queue's stream and captures the subject
  ``gitstore.queue.<stream>``; file storage, limits retention (messages stay after acks,
  so every group - including one created later - sees the whole stream).
* With a ``Retention``, the stream carries ``max_msgs`` / ``max_age`` (discard old): the
  server trims exactly. Opening a stream that exists with other limits updates them (an
  open without ``Retention`` leaves the stream's limits as they are).
* ``group_idle_expiry`` is the consumers' ``inactive_threshold``: the server deletes a
  durable consumer no pull request reached for that long (set when the group is created).
* Each group is a durable pull consumer (``durable_name = group``) with explicit acks,
  ``ack_wait`` from the queue, unlimited redeliveries. The server hands each message to one
  pull request at a time and redelivers it when ``ack_wait`` passes without an ack.
* Each (group, consumer) pair has its own reply inbox, so several consumers in one process
  fetch concurrently without stealing each other's deliveries. Pulls are issued by hand
  (``$JS.API.CONSUMER.MSG.NEXT``): a no-wait request for what is available, else a
  one-message request held up to ``timeout``, then a no-wait top-up. Every request is read
  until fulfilled or ended by its status (404/408), so none lingers on the server and
  leases nothing to a consumer that has stopped listening.
* ``publish`` waits for the JetStream PubAck (the message is stored); the id is the stream
  sequence. The message key travels in the ``Gitstore-Key`` header.
* ``ack``/``nack`` need the delivered message (its reply subject names the delivery), so
  messages fetched by *this* instance are remembered per (group, id) in a bounded map;
  ``ack`` is confirmed by the server (``ack_sync``), ``nack`` is ``-NAK`` (prompt
  redelivery). Acking an id this instance did not fetch is a no-op: the lease then expires
  and the message is redelivered (at-least-once still holds).
* ``extend_lease`` sends ``+WPI`` (work in progress) on the delivery's reply subject as a
  request, so the server confirms receiving it; the server then restarts the message's
  ``ack_wait``. The server ignores ``+WPI`` for a message that is not pending and says
  nothing either way, so the answer comes from this instance's own books: each remembered
  delivery carries the monotonic time its lease ends (arrival or last extension + the
  queue's ``ack_wait``; the server's clock started a network hop earlier). ``False`` for an
  id this instance did not fetch, acked or nacked, or whose lease ran out by that clock (the
  server may have redelivered it already).
* ``pending`` is the consumer's ``num_pending`` (not delivered) + ``num_ack_pending``.

A consumer's ``ack_wait`` is fixed when the group is first created on the server.

Size: the server refuses a message whose headers and body exceed its ``max_payload`` (1 MiB
by default; nats-py raises ``MaxPayloadError``, which used to surface as ``Unavailable`` and
was retried forever). ``max_payload`` here is the server's (read at connect time) less
``HEADER_ROOM`` for our headers, so the base class refuses larger bodies up front with the
permanent ``MessageTooLarge``.

Dead letters live in a second stream, ``<stream>--dead`` (subjects
``gitstore.dead.<stream>.<group>``, file storage, direct get allowed), created on first use.
``dead_letter`` publishes the body there with the headers ``Gitstore-Message-Id``,
``Gitstore-Delivery-Count``, ``Gitstore-Published-At``, ``Gitstore-Reason`` (one line) and
the key, then acks the delivery in the group (so an instance can dead-letter only what it
fetched, as for ``ack``). The dead-letter id is that stream's sequence; listing walks the
group's subject with direct gets (``next_by_subj``), replay publishes the body to the queue
stream then deletes the entry, drop deletes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

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
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, Unavailable

log = logging.getLogger(__name__)

KEY_HEADER = "Gitstore-Key"
ID_HEADER = "Gitstore-Message-Id"
COUNT_HEADER = "Gitstore-Delivery-Count"
PUBLISHED_HEADER = "Gitstore-Published-At"
REASON_HEADER = "Gitstore-Reason"
DEAD_AT_HEADER = "Gitstore-Dead-At"
# Room kept under the server's max_payload for the headers of a message or a dead letter.
HEADER_ROOM = 4096
MAX_REMEMBERED = 100_000  # delivered, not yet acked messages kept for ack/nack by id
REQUEST_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5


async def _on_error(exc: Exception) -> None:
    log.warning("nats: %s", exc)


async def _reachable(servers: list[str], where: str) -> None:
    errors = []
    for server in servers:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), timeout=CONNECT_TIMEOUT
            )
        except (TimeoutError, OSError) as exc:
            errors.append(f"{host}:{port}: {exc!r}")
            continue
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()
        return
    raise Unavailable(f"NATS at {where} is unavailable: {'; '.join(errors)}")


@dataclass(slots=True)
class _Delivery:
    msg: Msg
    lease_until: float  # monotonic: arrival (or last extension) + ack_wait


def _check_id(message_id: str) -> int:
    if not isinstance(message_id, str) or not message_id.isdigit() or int(message_id) < 1:
        raise InvalidArgument(f"invalid JetStream message id {message_id!r}", field="message_id")
    return int(message_id)


class NatsJetStreamQueue(Queue):
    def __init__(
        self,
        nc: Client,
        where: str,
        stream: str,
        ack_wait: float,
        retention: Retention = KEEP_ALL,
    ) -> None:
        self.stream = stream
        self.ack_wait = ack_wait
        self.retention = retention
        self.subject = f"gitstore.queue.{stream}"
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream(timeout=REQUEST_TIMEOUT)
        self._where = where
        self._groups: set[str] = set()
        self._subs: dict[tuple[str, str], Subscription] = {}
        self._sub_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._delivered: OrderedDict[tuple[str, str], _Delivery] = OrderedDict()
        self._closed = False
        self.max_payload = max(1, nc.max_payload - HEADER_ROOM)
        self.dead_stream = f"{stream}--dead"
        self._dead_ready = False

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        stream: str = "gitstore-events",
        ack_wait: float = 30.0,
        retention: Retention = KEEP_ALL,
    ) -> NatsJetStreamQueue:
        check_name("stream", stream)
        check_ack_wait(ack_wait)
        servers = [s.strip() for s in url.split(",") if s.strip()]
        where = ",".join(s.rsplit("@", 1)[-1] for s in servers)  # no credentials in messages
        # nats-py retries an unreachable server forever when reconnection is unlimited, so
        # first check that some server accepts TCP, then bound the handshake as a whole.
        await _reachable(servers, where)
        nc = Client()
        try:
            await asyncio.wait_for(
                nc.connect(
                    servers,
                    connect_timeout=CONNECT_TIMEOUT,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    error_cb=_on_error,
                    name=f"gitstore-queue-{stream}",
                ),
                timeout=2 * CONNECT_TIMEOUT,
            )
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            await nc.close()
            raise Unavailable(f"NATS at {where} is unavailable: {exc!r}") from exc
        queue = cls(nc, where, stream, ack_wait, retention)
        try:
            await queue._ensure_stream()
        except BaseException:
            await nc.close()
            raise
        return queue

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        if self._closed:
            raise FailedPrecondition(f"queue {self.stream!r} is closed")
        try:
            yield
        except nats.js.errors.ServiceUnavailableError as exc:
            raise Unavailable(f"JetStream at {self._where} is unavailable: {exc}") from exc
        except nats.js.errors.BadRequestError as exc:
            raise InvalidArgument(f"JetStream at {self._where} rejected a request: {exc}") from exc
        except nats.js.errors.APIError as exc:
            raise FailedPrecondition(f"JetStream at {self._where}: {exc}") from exc
        except (TimeoutError, nats.errors.Error) as exc:
            raise Unavailable(f"NATS at {self._where} is unavailable: {exc!r}") from exc

    async def _ensure_stream(self) -> None:
        max_msgs = self.retention.max_messages or -1
        max_age = float(self.retention.max_age)
        async with self._errors():
            try:
                info = await self._js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                config = StreamConfig(
                    name=self.stream,
                    subjects=[self.subject],
                    storage=StorageType.FILE,
                    max_msgs=max_msgs,
                    max_age=max_age,
                )
                await self._js.add_stream(config)
                return
            have = info.config
            if not self.retention.bounded:  # tools opening the stream leave its limits alone
                return
            if (have.max_msgs or -1) != max_msgs or float(have.max_age or 0) != max_age:
                have.max_msgs = max_msgs
                have.max_age = max_age
                await self._js.update_stream(have)

    async def _ensure_group(self, group: str) -> None:
        if group in self._groups:
            return
        try:
            await self._js.consumer_info(self.stream, group)
        except nats.js.errors.NotFoundError:
            config = ConsumerConfig(
                name=group,
                durable_name=group,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                deliver_policy=DeliverPolicy.ALL,
                max_deliver=-1,
                filter_subject=self.subject,
                inactive_threshold=self.retention.group_idle_expiry or None,
            )
            await self._js.add_consumer(self.stream, config)
        self._groups.add(group)

    async def _inbox(self, group: str, consumer: str) -> Subscription:
        sub = self._subs.get((group, consumer))
        if sub is None:
            await self._ensure_group(group)
            sub = await self._nc.subscribe(self._nc.new_inbox())
            self._subs[(group, consumer)] = sub
        return sub

    async def _pull(
        self, sub: Subscription, group: str, batch: int, expires: float | None
    ) -> list[tuple[Msg, float]]:
        """One pull request; read its replies until it is fulfilled or a status ends it.

        Returns the deliveries with the monotonic time each arrived (its lease started just
        before, on the server).

        ``expires=None`` is a no-wait request (what is available now, then ``404``/``408``);
        otherwise the server holds the request up to ``expires`` seconds. Reading up to the
        terminal status keeps requests from outliving the call (no stray deliveries).
        """
        request: dict[str, object] = {"batch": batch}
        if expires is None:
            request["no_wait"] = True
        else:
            request["expires"] = int(expires * 1e9)
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{group}"
        await self._nc.publish(subject, json.dumps(request).encode(), reply=sub.subject)
        deadline = time.monotonic() + (expires or 0) + REQUEST_TIMEOUT
        msgs: list[tuple[Msg, float]] = []
        while len(msgs) < batch:
            try:
                msg = await sub.next_msg(timeout=max(0.001, deadline - time.monotonic()))
            except nats.errors.TimeoutError:
                if expires is None and not msgs:
                    # a consumer always answers a no-wait pull (404 at least): silence means
                    # it is gone (deleted, e.g. by its inactive_threshold); recreate it next time
                    self._groups.discard(group)
                break
            status = (msg.headers or {}).get("Status")
            if not status:
                msgs.append((msg, time.monotonic()))
            elif status == "100":  # idle heartbeat
                continue
            else:  # 404 no messages, 408 expired, 409 limits or consumer deleted
                if status == "409" or status == "503":
                    self._groups.discard(group)
                    log.debug("pull on %s/%s ended: %s", self.stream, group, msg.headers)
                break
        return msgs

    async def _publish(self, body: bytes, *, key: str) -> str:
        async with self._errors():
            headers = {KEY_HEADER: key} if key else None
            ack = await self._js.publish(
                self.subject, bytes(body), stream=self.stream, headers=headers
            )
            return str(ack.seq)

    def _remember(self, group: str, msg: Msg, received_at: float) -> Message:
        meta = msg.metadata
        mid = str(meta.sequence.stream)
        self._delivered[(group, mid)] = _Delivery(msg, received_at + self.ack_wait)
        self._delivered.move_to_end((group, mid))
        while len(self._delivered) > MAX_REMEMBERED:
            self._delivered.popitem(last=False)
        return Message(
            id=mid,
            body=msg.data,
            key=(msg.headers or {}).get(KEY_HEADER, ""),
            delivery_count=meta.num_delivered,
            published_at=meta.timestamp.timestamp(),
        )

    async def _fetch(
        self, group: str, consumer: str, *, max_messages: int, timeout: float
    ) -> list[Message]:
        lock = self._sub_locks.setdefault((group, consumer), asyncio.Lock())
        async with self._errors(), lock:
            await self._ensure_group(group)
            sub = await self._inbox(group, consumer)
            msgs = await self._pull(sub, group, max_messages, None)
            if not msgs and timeout > 0:
                msgs = await self._pull(sub, group, 1, timeout)
                if msgs and max_messages > 1:
                    msgs += await self._pull(sub, group, max_messages - 1, None)
            return [self._remember(group, m, at) for m, at in msgs]

    async def ack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        _check_id(message_id)
        delivery = self._delivered.pop((group, message_id), None)
        if delivery is None:
            log.debug("ack of %s/%s: not fetched by this instance, ignored", group, message_id)
            return
        async with self._errors():
            await delivery.msg.ack_sync(timeout=REQUEST_TIMEOUT)

    async def nack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        _check_id(message_id)
        delivery = self._delivered.pop((group, message_id), None)
        if delivery is not None:
            async with self._errors():
                await delivery.msg.nak()

    async def extend_lease(self, group: str, message_id: str) -> bool:
        check_name("group", group)
        _check_id(message_id)
        delivery = self._delivered.get((group, message_id))
        now = time.monotonic()
        if delivery is None or delivery.lease_until <= now:
            return False
        async with self._errors():
            await self._nc.request(delivery.msg.reply, b"+WPI", timeout=REQUEST_TIMEOUT)
        delivery.lease_until = now + self.ack_wait
        return True

    # ------------------------------------------------------------------ dead letters

    def _dead_subject(self, group: str) -> str:
        return f"gitstore.dead.{self.stream}.{check_name('group', group)}"

    async def _ensure_dead_stream(self) -> None:
        if self._dead_ready:
            return
        try:
            await self._js.stream_info(self.dead_stream)
        except nats.js.errors.NotFoundError:
            config = StreamConfig(
                name=self.dead_stream,
                subjects=[f"gitstore.dead.{self.stream}.*"],
                storage=StorageType.FILE,
                allow_direct=True,
            )
            await self._js.add_stream(config)
        self._dead_ready = True

    async def dead_letter(self, group: str, message: Message, reason: str) -> None:
        subject = self._dead_subject(group)
        _check_id(message.id)
        headers = {
            ID_HEADER: message.id,
            COUNT_HEADER: str(message.delivery_count),
            PUBLISHED_HEADER: repr(message.published_at),
            REASON_HEADER: clip_reason(reason),
            DEAD_AT_HEADER: repr(time.time()),
        }
        if message.key:
            headers[KEY_HEADER] = message.key
        async with self._errors():
            await self._ensure_dead_stream()
            await self._js.publish(subject, message.body, stream=self.dead_stream, headers=headers)
        await self.ack(group, message.id)

    async def _dead_at(self, group: str, seq: int, *, following: bool) -> DeadLetter | None:
        """The group's dead letter at ``seq`` (or the first after it); None if there is none."""
        subject = self._dead_subject(group)
        try:
            await self._ensure_dead_stream()
            raw = await self._js.get_msg(
                self.dead_stream, seq=seq, subject=subject, next=True, direct=True
            )
        except nats.js.errors.NotFoundError:
            return None
        if raw.seq is None or raw.subject != subject or (not following and raw.seq != seq):
            return None
        h = raw.headers or {}
        return DeadLetter(
            id=str(raw.seq),
            message_id=h.get(ID_HEADER, ""),
            body=raw.data or b"",
            key=h.get(KEY_HEADER, ""),
            delivery_count=int(h.get(COUNT_HEADER, "0")),
            published_at=float(h.get(PUBLISHED_HEADER, "0")),
            reason=h.get(REASON_HEADER, ""),
            dead_at=float(h.get(DEAD_AT_HEADER, "0")),
        )

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[DeadLetter]:
        check_limit(limit)
        out: list[DeadLetter] = []
        seq = 1
        async with self._errors():
            while len(out) < limit:
                letter = await self._dead_at(group, seq, following=True)
                if letter is None:
                    break
                out.append(letter)
                seq = int(letter.id) + 1
        return out

    async def dead_letter_count(self, group: str) -> int:
        subject = self._dead_subject(group)
        async with self._errors():
            await self._ensure_dead_stream()
            info = await self._js.stream_info(self.dead_stream, subjects_filter=subject)
            return int((info.state.subjects or {}).get(subject, 0))

    async def replay_dead_letter(self, group: str, dead_id: str) -> str | None:
        seq = _check_id(dead_id)
        async with self._errors():
            letter = await self._dead_at(group, seq, following=False)
        if letter is None:
            return None
        new_id = await self.publish(letter.body, key=letter.key)
        await self.drop_dead_letter(group, dead_id)
        return new_id

    async def drop_dead_letter(self, group: str, dead_id: str) -> bool:
        seq = _check_id(dead_id)
        async with self._errors():
            if await self._dead_at(group, seq, following=False) is None:
                return False
            try:
                return bool(await self._js.delete_msg(self.dead_stream, seq))
            except nats.js.errors.NotFoundError:
                return False

    async def pending(self, group: str) -> int:
        check_name("group", group)
        async with self._errors():
            await self._ensure_group(group)
            info = await self._js.consumer_info(self.stream, group)
            return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def drop(self) -> None:
        async with self._errors():
            for sub in self._subs.values():
                await sub.unsubscribe()
            self._subs.clear()
            self._groups.clear()
            self._delivered.clear()
            with suppress(nats.js.errors.NotFoundError):
                await self._js.delete_stream(self.stream)
            with suppress(nats.js.errors.NotFoundError):
                await self._js.delete_stream(self.dead_stream)
            self._dead_ready = False

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._delivered.clear()
            await self._nc.close()
