"""Open a queue from a URL (``GITSTORE_QUEUE__URL``).

``open_queue`` is an async function that connects eagerly, so a wrong or unreachable URL
fails at start-up (``InvalidArgument`` / ``Unavailable``), not at the first publish:

* ``sqlite:///abs/path/queue.sqlite3`` - embedded durable queue (the default). A path after
  ``sqlite://`` that starts with ``/`` is absolute (``sqlite:////abs`` works too); any other
  (``sqlite://data/q.sqlite3`` or ``sqlite:data/q.sqlite3``) is relative to the working
  directory. Missing parent directories are created.
* ``memory://`` (private) or ``memory://name`` (process-wide, shared by name) - in-process.
* ``redis://host:port/db`` (``rediss://`` for TLS) - Redis Streams with consumer groups.
* ``nats://host:port`` (``tls://`` too; several servers separated by commas) - JetStream.

Backend modules are imported lazily so the embedded deployment does not load client
libraries it does not use.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gitstore.backends.queue.base import KEEP_ALL, Queue, Retention, check_ack_wait, check_name
from gitstore.backends.urls import sqlite_path as _sqlite_path
from gitstore.domain.errors import InvalidArgument

SCHEMES = ("sqlite", "memory", "redis", "rediss", "nats", "tls")


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:`` URL names (see ``gitstore.backends.urls``)."""
    return _sqlite_path(url, what="queue URL")


async def open_queue(
    url: str,
    *,
    stream: str = "gitstore-events",
    ack_wait: float = 30.0,
    retention: Retention = KEEP_ALL,
) -> Queue:
    """Open (and connect) the queue ``url`` names, bound to ``stream``, ``ack_wait`` and
    ``retention`` (what the stream keeps; see ``base``)."""
    check_name("stream", stream)
    check_ack_wait(ack_wait)
    if not isinstance(retention, Retention):
        raise InvalidArgument(
            f"retention must be a Retention, got {retention!r}", field="retention"
        )
    queue = await _open(url, stream, ack_wait, retention)
    return queue


async def _open(url: str, stream: str, ack_wait: float, retention: Retention) -> Queue:
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    if scheme == "sqlite":
        from gitstore.backends.queue.sqlite import SqliteQueue

        return await SqliteQueue.open(
            sqlite_path(url), stream=stream, ack_wait=ack_wait, retention=retention
        )
    if scheme == "memory":
        from gitstore.backends.queue.memory import MemoryBroker, MemoryQueue

        name = url[len("memory://") :] if url.startswith("memory://") else ""
        broker = MemoryBroker.named(name) if name else MemoryBroker()
        return MemoryQueue(stream, ack_wait=ack_wait, broker=broker, retention=retention)
    if scheme in ("redis", "rediss"):
        from gitstore.backends.queue.redis_streams import RedisStreamsQueue

        return await RedisStreamsQueue.open(
            url, stream=stream, ack_wait=ack_wait, retention=retention
        )
    if scheme in ("nats", "tls"):
        from gitstore.backends.queue.nats_jetstream import NatsJetStreamQueue

        return await NatsJetStreamQueue.open(
            url, stream=stream, ack_wait=ack_wait, retention=retention
        )
    raise InvalidArgument(
        f"unsupported queue URL {url!r}: expected sqlite:///path, memory://, "
        "redis://host:port/db or nats://host:port",
        field="url",
    )
