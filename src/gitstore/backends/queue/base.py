"""The event queue contract.

One durable stream of messages; any number of consumer *groups* read it independently, and
the consumers inside one group share its messages (each message goes to one consumer of the
group at a time). Delivery is at-least-once:

* ``fetch`` hands out messages and leases them to the calling consumer;
* ``ack`` ends a message's life for that group;
* a message not acked within ``ack_wait`` seconds (the consumer crashed or hung) is handed
  out again, to any consumer of the group, with ``delivery_count`` increased;
* ``nack`` gives a message back at once for redelivery.

Publishing returns only after the message is durable in the backend. Messages carry opaque
bytes plus an optional ``key`` (e.g. the repository id) that backends may use for ordering
or partitioning; consumers must not rely on cross-key ordering.

Backend library errors are mapped to ``gitstore.domain.errors``: connection problems are
``Unavailable`` (retryable), misuse is ``InvalidArgument``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


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
    async def pending(self, group: str) -> int:
        """Messages of the stream not yet acked by ``group`` (leased or not yet delivered)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. The queue must not be used afterwards."""

    async def __aenter__(self) -> Queue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
