"""Choosing a resource store by URL (``GITSTORE_RESOURCES__URL``; default: SQLite in the data
dir, ``Settings.resources_url()``).

* ``sqlite:///abs/path.sqlite3`` or ``sqlite://relative/path.sqlite3`` — embedded;
* ``postgresql://user@host:port/db`` (or ``postgres://``) — PostgreSQL, with ``schema=<name>``
  and ``pool_max=<n>`` in the query string as for the metadata store;
* ``memory://`` — process memory, for tests.

``retain`` is the watch window: the last ``retain`` changes of each repository are kept for
``changes_since``. The store is returned unopened: ``await store.migrate()`` first.
"""

from __future__ import annotations

from gitstore.backends.metadata.factory import split_postgres_url
from gitstore.backends.urls import sqlite_path
from gitstore.domain.errors import InvalidArgument

from .base import DEFAULT_RETAIN, ResourceStore

SCHEMES = ("sqlite", "postgresql", "postgres", "memory")


def open_resource_store(url: str, *, retain: int = DEFAULT_RETAIN) -> ResourceStore:
    """The store a URL names; ``InvalidArgument`` for an unknown scheme or a bad URL."""
    scheme, sep, _ = url.partition("://") if isinstance(url, str) else ("", "", "")
    scheme = scheme.lower()
    if not sep and scheme != "sqlite":
        raise InvalidArgument(
            f"resource store URL {url!r} has no scheme; use sqlite:///path, postgresql://... "
            "or memory://",
            field="resources.url",
        )
    if scheme == "memory":
        from .memory import MemoryResourceStore

        return MemoryResourceStore(retain=retain)
    if scheme == "sqlite":
        from .sqlite import SqliteResourceStore

        path = sqlite_path(url, what="resource store URL", field="resources.url")
        return SqliteResourceStore(path, retain=retain)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresResourceStore

        conninfo, schema, pool_max = split_postgres_url(url)
        return PostgresResourceStore(conninfo, schema=schema, max_size=pool_max, retain=retain)
    raise InvalidArgument(
        f"unknown resource store scheme {scheme!r} in {url!r}; use one of {', '.join(SCHEMES)}",
        field="resources.url",
    )
