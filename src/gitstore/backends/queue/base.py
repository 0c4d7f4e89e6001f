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
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass

from gitstore.domain.errors import InvalidArgument

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


def check_ack_wait(ack_wait: float) -> float:
    if not ack_wait > 0:
        raise InvalidArgument(f"ack_wait must be > 0 seconds, got {ack_wait}", field="ack_wait")
    return float(ack_wait)


@dataclass(frozen=True, slots=True)
class Message:
    """A delivered message. ``id`` is the backend's id, stable across redeliveries."""

    id: str
    body: bytes
    key: str
    delivery_count: int
    published_at: float


class Queue(abc.ABC):
    """A durable stream with consumer groups. Implementations are safe for asyncio use."""

    #: The stream this instance reads and writes.
    stream: str
    #: Seconds a fetched message stays leased to its consumer before it is redelivered.
    ack_wait: float

    @abc.abstractmethod
    async def publish(self, body: bytes, *, key: str = "") -> str:
        """Append a message durably; return its id."""

    @abc.abstractmethod
    async def fetch(
        self, group: str, consumer: str, *, max_messages: int = 10, timeout: float = 1.0
    ) -> list[Message]:
        """Lease up to ``max_messages`` for ``consumer`` of ``group``.

        Waits up to ``timeout`` seconds for at least one message; returns ``[]`` if none
        came. The group is created on first use and starts at the beginning of the stream.
        Includes messages whose lease (``ack_wait``) expired, before new ones.
        """

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
