"""Choosing a metadata store by URL (``GITSTORE_DB__URL``, default ``Settings.db_url()``).

* ``sqlite:///abs/path.sqlite3`` or ``sqlite://relative/path.sqlite3`` — the embedded store
  (the reading every backend shares, see ``gitstore.backends.urls``);
* ``postgresql://user@host:port/db`` (or ``postgres://``) — PostgreSQL; libpq parameters in
  the query string pass through, plus ``schema=<name>`` to keep the tables in one schema
  (created by ``migrate()`` if missing) and ``pool_max=<n>`` for the pool size;
* ``memory://`` — process memory, for tests.

The store is returned unopened: call ``await store.migrate()`` first (it connects and brings
the schema up to date), and ``await store.close()`` at the end. The PostgreSQL module is
imported only when a PostgreSQL URL is used.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gitstore.backends.urls import sqlite_path
from gitstore.domain.errors import InvalidArgument

from .base import MetadataStore

SCHEMES = ("sqlite", "postgresql", "postgres", "memory")


def open_metadata_store(url: str) -> MetadataStore:
    """The store a URL names; ``InvalidArgument`` for an unknown scheme or a bad URL."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise InvalidArgument(
            f"metadata store URL {url!r} has no scheme; use sqlite:///path, postgresql://... "
            "or memory://",
            field="db.url",
        )
    scheme = scheme.lower()
    if scheme == "memory":
        from .memory import MemoryMetadataStore

        return MemoryMetadataStore()
    if scheme == "sqlite":
        from .sqlite import SqliteMetadataStore

        return SqliteMetadataStore(sqlite_path(url, what="metadata store URL", field="db.url"))
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresMetadataStore

        conninfo, schema, pool_max = split_postgres_url(url)
        return PostgresMetadataStore(conninfo, schema=schema, max_size=pool_max)
    raise InvalidArgument(
        f"unknown metadata store scheme {scheme!r} in {url!r}; use one of {', '.join(SCHEMES)}",
        field="db.url",
    )


def split_postgres_url(url: str) -> tuple[str, str | None, int]:
    """Take GitStore's own query parameters (``schema``, ``pool_max``) out of a PostgreSQL
    URL; return ``(libpq URL, schema, pool_max)``."""
    parts = urlsplit(url)
    schema: str | None = None
    pool_max = 10
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = value or None
        elif key == "pool_max":
            try:
                pool_max = int(value)
            except ValueError:
                pool_max = 0
            if pool_max < 1:
                raise InvalidArgument(
                    f"pool_max must be a positive integer (got {value!r})", field="db.url"
                )
        else:
            kept.append((key, value))
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(kept), "")), schema, pool_max
