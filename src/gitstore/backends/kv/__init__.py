"""The KV projection store: interface (``base``), backends and ``open_kv_store(url)``.

URLs (``GITSTORE_KV__URL``; default ``Settings.kv_url()`` = ``sqlite:///<data_dir>/kv.sqlite3``):

* ``sqlite:///abs/path/kv.sqlite3`` — the embedded store. After ``sqlite://`` a path starting
  with ``/`` is absolute (``sqlite:////abs`` works too); any other is relative to the working
  directory (``sqlite://data/kv.sqlite3``). Missing parent directories are created.
* ``redis://host:port/db`` (``rediss://`` for TLS; ``valkey://`` / ``valkeys://`` accepted) —
  Redis or Valkey; ``?prefix=<text>`` puts ``<text>`` before every key.
* ``memory://`` — in-process, for tests.

Backend modules are imported lazily, so the embedded deployment never loads the Redis client.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gitstore.backends.kv.base import (
    ApplyResult,
    Batch,
    ChannelHead,
    Document,
    KvStore,
    Page,
    Upsert,
    encode_upsert,
)
from gitstore.backends.kv.bodies import encode_body
from gitstore.backends.urls import sqlite_path as _sqlite_path
from gitstore.domain.errors import InvalidArgument

__all__ = [
    "ApplyResult",
    "Batch",
    "ChannelHead",
    "Document",
    "KvStore",
    "Page",
    "Upsert",
    "encode_body",
    "encode_upsert",
    "open_kv_store",
    "sqlite_path",
]


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:`` URL names (see ``gitstore.backends.urls``)."""
    return _sqlite_path(url, what="kv URL")


async def open_kv_store(url: str) -> KvStore:
    """Open the store ``url`` names. SQLite opens (and creates) its file at once; Redis
    connects on first use — call ``ping()`` to fail fast on an unreachable server."""
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    if scheme == "sqlite":
        from gitstore.backends.kv.sqlite import SqliteKvStore

        return await SqliteKvStore.open(sqlite_path(url))
    if scheme == "memory":
        from gitstore.backends.kv.memory import MemoryKvStore

        return MemoryKvStore()
    if scheme in ("redis", "rediss", "valkey", "valkeys"):
        from gitstore.backends.kv.redis import RedisKvStore

        return RedisKvStore.from_url(url)
    raise InvalidArgument(
        f"unsupported kv URL {url!r}: expected sqlite:///path, redis://host:port/db or memory://",
        field="url",
    )
