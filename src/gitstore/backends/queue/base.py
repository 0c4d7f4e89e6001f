"""The event queue contract.

One durable stream of messages; any number of consumer *groups* read it independently, and
the consumers inside one group share its messages (each message goes to one consumer of the
group at a time). Delivery is at-least-once:

* ``fetch`` hands out messages and leases them to the calling consumer;
* ``ack`` ends a message's life for that group;
* a message not acked within ``ack_wait`` seconds (the consumer crashed or hung) is handed
  out again, to any consumer of the group, with ``delivery_count`` increased;
* ``nack`` gives a message back at once for redelivery;
* ``extend_lease`` says "still working on it": a live lease starts again from now, so a
  handler that runs longer than ``ack_wait`` keeps its message by extending every
  ``ack_wait / 3`` (``worker.consumer`` does).

A ``Queue`` instance is bound to one stream (``stream``, a name of letters, digits, ``-`` and
``_``) and one lease length (``ack_wait`` seconds), both fixed when it is opened (see
``factory.open_queue``). Group names follow the same rule as stream names; consumer names
are free-form labels (non-empty, no whitespace) that say who holds a lease.

Publishing returns only after the message is durable in the backend. Messages carry opaque
bytes plus an optional ``key`` (e.g. the repository id) that backends may use for ordering
or partitioning; consumers must not rely on cross-key ordering. A single consumer that acks
what it fetches sees one stream's messages in publish order; redeliveries come before new
messages, so any consumer must be idempotent (deduplicate by a stable id in the body, e.g.
``RefUpdateEvent.event_id``).

Message ids are strings chosen by the backend, stable across redeliveries. ``ack`` and
``nack`` of an id that is not (or no longer) pending are no-ops; an id the backend could
never have produced is ``InvalidArgument``.

Backend library errors are mapped to ``gitstore.domain.errors``: connection problems are
``Unavailable`` (retryable), misuse is ``InvalidArgument``.

**Size.** ``max_payload`` is the largest body ``publish`` accepts (1 MiB, or what the NATS
server allows less room for headers). A larger body is refused *before* anything is sent with
``MessageTooLarge`` - a permanent error (``ResourceExhausted``): retrying it fails the same way,
so callers must shrink it or set it aside, never retry it. Events are built to fit
``domain.events.MAX_EVENT_BYTES``, well under every backend's limit.

**Dead letters.** A message that cannot be handled is moved, per group, into the group's
dead-letter store: ``dead_letter(group, message, reason)`` records it (body, key, delivery
count, reason) and acks it in the group, so it no longer comes back ahead of other messages.
``fetch(..., max_deliveries=N)`` applies a delivery budget: a message that would be handed out
for the (N+1)-th time (its consumers crashed, hung or kept failing) is dead-lettered instead
(logged at ERROR) and not returned. ``dead_letters``/``dead_letter_count`` list and count the
store (oldest first), ``replay_dead_letter`` publishes the body again (a new message id, seen
by every group: handlers deduplicate by the id in the body) and removes it from the store,
``drop_dead_letter`` removes it. Dead-letter ids are strings chosen by the backend.

**Retention.** By default nothing is ever removed from a stream: a group created later starts
at the beginning and sees it all. A stream whose messages are only hints (the ``resources``
pokes: a lost one costs a watcher a bookmark tick) is opened with a ``Retention`` instead:
``max_messages`` keeps about that many newest messages, ``max_age`` drops messages older than
that many seconds (0 = no limit of that kind). Trimming removes a message for *every* group,
whether it was delivered, leased or not yet read (a trimmed lease is never redelivered; its
``ack`` is a no-op): retention trades at-least-once for a bounded stream. The newest
``max_messages`` messages younger than ``max_age`` are always kept; backends may keep a few more
(Redis trims whole radix-tree nodes, ``MAXLEN ~``; SQLite trims every
``max_messages // 10`` publishes), never more than ``2 * max_messages + 100``.

``group_idle_expiry`` (seconds, 0 = never) deletes a *group* nobody fetched from for that
long: its position, leases and dead letters. A later fetch in that group creates it again at
the start of the (bounded) stream. For streams read by one group per process (the watch
caches' ``watch-<host>-<pid>`` groups), so the groups of ended processes go away; a live
consumer fetching at least every ``group_idle_expiry / 2`` keeps its group. JetStream
deletes the consumer itself (``inactive_threshold``); the others sweep on fetch (SQLite
records a group's last fetch at most every ``group_idle_expiry / 10``). Redis and
NATS set the limits at open time (the last bounded open wins; an open without retention, e.g.
by a tool, leaves a JetStream stream's limits alone); SQLite and memory trim as they go.
"""

from __future__ import annotations

import abc
import logging
import re
from dataclasses import dataclass

from gitstore.domain.errors import GitStoreError, InvalidArgument, ResourceExhausted

log = logging.getLogger(__name__)

#: The payload limit of the backends that have no limit of their own (memory, SQLite, Redis):
#: the same as a NATS server's default, so a message that fits one backend fits them all.
DEFAULT_MAX_PAYLOAD = 1024 * 1024
#: Longest ``reason`` kept with a dead letter.
MAX_REASON = 1000


class MessageTooLarge(ResourceExhausted):
    """``publish`` refused a body over the queue's ``max_payload`` (nothing was stored)."""

    def __init__(self, size: int, limit: int, stream: str) -> None:
        super().__init__(
            f"message of {size} bytes is over the {limit}-byte maximum payload of queue {stream!r}",
            field="body",
        )
        self.size = size
        self.limit = limit


_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_name(what: str, value: str) -> str:
    """Validate a stream or group name (used in keys and server-side object names)."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidArgument(
            f"invalid {what} name {value!r}: use 1-64 letters, digits, '-' or '_'", field=what
        )
    return value


def check_consumer(value: str) -> str:
    """Validate a consumer label: non-empty, at most 256 characters, no whitespace."""
    if not isinstance(value, str) or not value or len(value) > 256 or re.search(r"\s", value):
        raise InvalidArgument(
            f"invalid consumer name {value!r}: non-empty, at most 256 chars, no whitespace",
            field="consumer",
        )
    return value


def check_fetch_args(max_messages: int, timeout: float) -> None:
    if max_messages < 1:
        raise InvalidArgument(
            f"max_messages must be >= 1, got {max_messages}", field="max_messages"
        )
    if timeout < 0:
        raise InvalidArgument(f"timeout must be >= 0, got {timeout}", field="timeout")


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(f"limit must be >= 1, got {limit!r}", field="limit")
    return limit


def check_ack_wait(ack_wait: float) -> float:
    if not ack_wait > 0:
        raise InvalidArgument(f"ack_wait must be > 0 seconds, got {ack_wait}", field="ack_wait")
    return float(ack_wait)


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of a stream is kept (see the module): 0 = no limit of that kind."""

    max_messages: int = 0
    max_age: float = 0.0  # seconds
    group_idle_expiry: float = 0.0  # seconds

    def __post_init__(self) -> None:
        if not isinstance(self.group_idle_expiry, int | float) or not self.group_idle_expiry >= 0:
            raise InvalidArgument(
                f"retention group_idle_expiry must be >= 0 seconds, got {self.group_idle_expiry!r}",
                field="group_idle_expiry",
            )
        if not isinstance(self.max_messages, int) or self.max_messages < 0:
            raise InvalidArgument(
                f"retention max_messages must be an integer >= 0, got {self.max_messages!r}",
                field="max_messages",
            )
        if not isinstance(self.max_age, int | float) or not self.max_age >= 0:
            raise InvalidArgument(
                f"retention max_age must be >= 0 seconds, got {self.max_age!r}", field="max_age"
            )

    @property
    def bounded(self) -> bool:
        return bool(self.max_messages or self.max_age)


#: Keep everything (the default of every stream).
KEEP_ALL = Retention()


@dataclass(frozen=True, slots=True)
class Message:
    """A delivered message. ``id`` is the backend's id, stable across redeliveries."""

    id: str
    body: bytes
    key: str
    delivery_count: int
    published_at: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message set aside for one group: what it was, how often it was tried and why."""

    id: str  # the dead-letter store's id (for replay/drop)
    message_id: str  # the message's id in the stream
    body: bytes
    key: str
    delivery_count: int
    published_at: float
    reason: str
    dead_at: float


def clip_reason(reason: str) -> str:
    """One line of at most ``MAX_REASON`` characters (NATS carries it in a header)."""
    line = " ".join(str(reason).split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


class Queue(abc.ABC):
    """A durable stream with consumer groups. Implementations are safe for asyncio use.

    Backends implement the ``_publish``/``_fetch`` steps; ``publish`` and ``fetch`` here add
    the size check and the delivery budget, the same for all of them.
    """

    #: The stream this instance reads and writes.
    stream: str
    #: Seconds a fetched message stays leased to its consumer before it is redelivered.
    ack_wait: float
    #: The largest body ``publish`` accepts, in bytes.
    max_payload: int = DEFAULT_MAX_PAYLOAD
    #: What the stream keeps (set at open time; ``KEEP_ALL`` by default).
    retention: Retention = KEEP_ALL

    async def publish(self, body: bytes, *, key: str = "") -> str:
        """Append a message durably; return its id.

        ``MessageTooLarge`` (permanent) if ``body`` is over ``max_payload``; nothing is stored.
        """
        if len(body) > self.max_payload:
            raise MessageTooLarge(len(body), self.max_payload, self.stream)
        return await self._publish(bytes(body), key=key)

    @abc.abstractmethod
    async def _publish(self, body: bytes, *, key: str) -> str:
        """Store a message that fits ``max_payload``; return its id."""

    async def fetch(
        self,
        group: str,
        consumer: str,
        *,
        max_messages: int = 10,
        timeout: float = 1.0,
        max_deliveries: int = 0,
    ) -> list[Message]:
        """Lease up to ``max_messages`` for ``consumer`` of ``group``.

        Waits up to ``timeout`` seconds for at least one message; returns ``[]`` if none
        came. The group is created on first use and starts at the beginning of the stream.
        Includes messages whose lease (``ack_wait``) expired, before new ones.

        ``max_deliveries`` > 0 is a delivery budget: a message delivered more often than that
        is moved to the group's dead letters instead of being returned.
        """
        check_name("group", group)
        check_consumer(consumer)
        check_fetch_args(max_messages, timeout)
        if max_deliveries < 0:
            raise InvalidArgument(
                f"max_deliveries must be >= 0, got {max_deliveries}", field="max_deliveries"
            )
        got = await self._fetch(group, consumer, max_messages=max_messages, timeout=timeout)
        if not max_deliveries:
            return got
        live = []
        for message in got:
            if message.delivery_count <= max_deliveries:
                live.append(message)
                continue
            reason = (
                f"delivered {message.delivery_count} times, over the budget of "
                f"{max_deliveries} (its consumers crashed, hung or kept failing)"
            )
            try:
                await self.dead_letter(group, message, reason)
            except GitStoreError as exc:  # it stays leased and comes back after ack_wait
                log.warning(
                    "cannot dead-letter message %s of %s/%s (%s)",
                    message.id,
                    self.stream,
                    group,
                    exc.message,
                )
                continue
            log.error(
                "message %s of %s/%s dead-lettered: %s", message.id, self.stream, group, reason
            )
        return live

    @abc.abstractmethod
    async def _fetch(
        self, group: str, consumer: str, *, max_messages: int, timeout: float
    ) -> list[Message]:
        """``fetch`` without the budget (arguments already checked)."""

    @abc.abstractmethod
    async def dead_letter(self, group: str, message: Message, reason: str) -> None:
        """Record ``message`` (fetched from this stream) in ``group``'s dead letters and ack
        it in ``group``. A message dead-lettered twice (two consumers raced) may be listed
        twice; replaying both is harmless (handlers deduplicate)."""

    @abc.abstractmethod
    async def dead_letters(self, group: str, *, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` dead letters of ``group``."""

    @abc.abstractmethod
    async def dead_letter_count(self, group: str) -> int:
        """How many dead letters ``group`` has."""

    @abc.abstractmethod
    async def replay_dead_letter(self, group: str, dead_id: str) -> str | None:
        """Publish a dead letter's body (and key) again and remove it from the store.

        Returns the new message id; ``None`` if ``group`` has no dead letter ``dead_id``.
        """

    @abc.abstractmethod
    async def drop_dead_letter(self, group: str, dead_id: str) -> bool:
        """Remove a dead letter for good; ``False`` if there was none with that id."""

    @abc.abstractmethod
    async def ack(self, group: str, message_id: str) -> None:
        """Acknowledge a message for ``group``. Acking twice, or an unknown id, is a no-op."""

    @abc.abstractmethod
    async def nack(self, group: str, message_id: str) -> None:
        """Release a leased message so it is redelivered as soon as possible."""

    @abc.abstractmethod
    async def extend_lease(self, group: str, message_id: str) -> bool:
        """Restart a live lease: ``message_id`` is not redelivered for another ``ack_wait``.

        Returns ``True`` if the message is leased in ``group`` and its lease has not run out;
        the lease now ends ``ack_wait`` seconds from now, with the same holder and
        ``delivery_count``. Returns ``False`` and changes nothing when there is no live lease:
        the message was acked or nacked, its lease expired (it is due for redelivery), or the
        group or id is unknown. An expired lease is never revived and an acked message never
        comes back. A malformed id is ``InvalidArgument``, as for ``ack``.

        Leases are per (group, message), like ``ack``: there is no consumer argument. A holder
        that extends every ``ack_wait / 3`` never loses its lease; one that let it run out
        gets ``False`` - unless the message was already fetched again, in which case the call
        renews the new holder's lease (harmless: handlers are idempotent). The JetStream
        backend can extend only messages this instance fetched (see its module).
        """

    @abc.abstractmethod
    async def pending(self, group: str) -> int:
        """Messages of the stream not yet acked by ``group`` (leased or not yet delivered).

        Creates the group if it does not exist yet (so it counts the whole stream).
        """

    @abc.abstractmethod
    async def drop(self) -> None:
        """Delete the stream, its messages and all its groups (tests and tooling)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. The queue must not be used afterwards."""

    async def __aenter__(self) -> Queue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
