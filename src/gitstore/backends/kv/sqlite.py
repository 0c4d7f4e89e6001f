"""Embedded KV store on SQLite (``sqlite:///path``, default ``<data_dir>/kv.sqlite3``).

One file in WAL mode, so readers never wait for the writer and separate processes on the same
machine (``api`` and ``worker``) may share it. Tables: live documents, tombstones (kept apart
so a live-document count or page never filters them out), index entries ``(kind, index, value,
name)``, channel heads, aliases, and ``kv_raw`` for the bulk-write floor.

A batch is one ``BEGIN IMMEDIATE`` transaction on the single writer connection
(``sqlite_apply``: guards, stored sequences, the writes). Any error rolls the whole transaction
back, so a batch is all or nothing, also across a crash (``synchronous=NORMAL`` in WAL keeps
every committed batch across a process crash; only an OS crash or power loss may lose the last
ones). ``set_alias`` with an expected target version reads the target's head in the same write
transaction. Reads use a small pool of read-only connections; a read that needs two statements
(count + page) runs them in one read transaction so both see the same snapshot. All blocking
calls run in ``asyncio.to_thread``.

Every write transaction is short by construction (one batch, one alias, one ``copy_step``
chunk; long operations are split into such steps by their callers), so other processes'
writers are never kept waiting for long. ``longest_write`` records the longest time this
store held the write lock (and what for); a hold over ``SLOW_WRITE_SECONDS`` is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gitstore.backends._sqlite import connect as sqlite_connect
from gitstore.backends.kv import sqlite_apply, sqlite_copy
from gitstore.backends.kv.base import (
    COPY_CHUNK,
    ApplyResult,
    Batch,
    ChannelHead,
    CopyStep,
    Document,
    KvStore,
    Page,
    check_alias,
    check_copy,
    check_first,
    check_read,
    decode_cursor,
    page_from,
    target_version_mismatch,
)
from gitstore.domain.errors import FailedPrecondition, GitStoreError, Unavailable
from gitstore.domain.keys import (
    ChannelScope,
    validate_channel,
    validate_index_name,
    validate_index_value,
    validate_repository,
    validate_sequence,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_CHUNK = 500
_READERS = 4
SLOW_WRITE_SECONDS = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv_documents (
  repository TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  sequence INTEGER NOT NULL, version TEXT NOT NULL, body BLOB NOT NULL, indexes TEXT NOT NULL,
  PRIMARY KEY (repository, channel, kind, name));
CREATE TABLE IF NOT EXISTS kv_tombstones (
  repository TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  sequence INTEGER NOT NULL, version TEXT NOT NULL,
  PRIMARY KEY (repository, channel, kind, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_index (
  repository TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL, idx TEXT NOT NULL,
  value TEXT NOT NULL, name TEXT NOT NULL,
  PRIMARY KEY (repository, channel, kind, idx, value, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_heads (
  repository TEXT NOT NULL, channel TEXT NOT NULL, sequence INTEGER NOT NULL,
  version TEXT NOT NULL, updated_at REAL NOT NULL,
  PRIMARY KEY (repository, channel)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_aliases (
  repository TEXT NOT NULL, alias TEXT NOT NULL, target TEXT, sequence INTEGER NOT NULL,
  PRIMARY KEY (repository, alias)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_raw (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""

_SCOPE = "repository = ? AND channel = ?"
_DOC = f"{_SCOPE} AND kind = ? AND name = ?"


def _map_error(exc: sqlite3.Error, what: str) -> GitStoreError:
    if isinstance(exc, sqlite3.OperationalError):
        return Unavailable(f"kv store (sqlite) unavailable during {what}: {exc}")
    return GitStoreError(f"kv store (sqlite) failed during {what}: {exc}")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    conn = sqlite_connect(path, synchronous="NORMAL", wal=not readonly)
    conn.execute("PRAGMA cache_size = -65536")  # KiB: 64 MiB of page cache per connection
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return conn


class SqliteKvStore(KvStore):
    def __init__(self, path: Path, writer: sqlite3.Connection) -> None:
        self.path = path
        self._writer = writer
        self._write_lock = asyncio.Lock()
        self._writer_mutex = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._read_slots = asyncio.Semaphore(_READERS)
        self._closed = False
        self.longest_write: tuple[float, str] = (0.0, "")  # seconds the write lock was held

    @classmethod
    async def open(cls, path: str | Path) -> SqliteKvStore:
        """Open (creating if needed) the store file and its schema."""
        file = Path(path)

        def setup() -> sqlite3.Connection:
            file.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(file, readonly=False)
            try:
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found > SCHEMA_VERSION:
                    raise FailedPrecondition(
                        f"{file} has kv schema version {found}; this gitstore knows up to "
                        f"{SCHEMA_VERSION}"
                    )
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                conn.close()
                raise
            return conn

        try:
            writer = await asyncio.to_thread(setup)
        except (sqlite3.Error, OSError) as exc:
            raise Unavailable(f"cannot open kv store {file}: {exc}") from exc
        return cls(file, writer)

    # ------------------------------------------------------------------ plumbing
    # A connection is only ever touched by the worker thread holding it: the writer under
    # ``_writer_mutex`` (a thread lock, so a cancelled ``apply`` cannot let the next one in
    # while its thread still runs), a reader from ``_readers`` until its thread puts it back.
    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("kv store is closed")

    async def _write(self, what: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one write transaction on the writer connection."""

        def run() -> T:
            with self._writer_mutex:
                self._check_open()
                conn = self._writer
                conn.execute("BEGIN IMMEDIATE")
                locked = time.perf_counter()
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                finally:
                    self._held(time.perf_counter() - locked, what)
                return result

        self._check_open()
        async with self._write_lock:
            try:
                return await asyncio.to_thread(run)
            except sqlite3.Error as exc:
                raise _map_error(exc, what) from exc

    def longest_write_seconds(self) -> float:
        return self.longest_write[0]

    def _held(self, seconds: float, what: str) -> None:
        if seconds > self.longest_write[0]:
            self.longest_write = (seconds, what)
        if seconds > SLOW_WRITE_SECONDS:
            log.warning("kv store %s held the write lock %.2fs for %s", self.path, seconds, what)

    async def _read(
        self, what: str, fn: Callable[[sqlite3.Connection], T], *, one_statement: bool = False
    ) -> T:
        """Run ``fn`` in one read transaction (one snapshot) on a pooled connection.
        ``one_statement``: ``fn`` runs a single statement, a snapshot of its own (no
        ``BEGIN`` / ``COMMIT``: two steps fewer, each a wait for the GIL; ``_documents``)."""

        def run() -> T:
            try:
                conn = self._readers.pop()
            except IndexError:
                conn = _connect(self.path, readonly=True)
            try:
                if one_statement:
                    return fn(conn)
                conn.execute("BEGIN")
                try:
                    return fn(conn)
                finally:
                    conn.execute("COMMIT")
            finally:
                if self._closed or conn.in_transaction:
                    conn.close()
                else:
                    self._readers.append(conn)

        self._check_open()
        async with self._read_slots:
            try:
                return await asyncio.to_thread(run)
            except sqlite3.Error as exc:
                raise _map_error(exc, what) from exc

    # ------------------------------------------------------------------ writes
    async def apply(self, batch: Batch) -> ApplyResult:
        now = time.time()
        return await self._write(
            f"apply to {batch.scope}", lambda c: sqlite_apply.apply(c, batch, now)
        )

    async def set_alias(
        self,
        repository: str,
        alias: str,
        target: str | None,
        *,
        sequence: int,
        expected_target_version: str | None = None,
    ) -> bool:
        check_alias(repository, alias, target, sequence, expected_target_version)

        def run(conn: sqlite3.Connection) -> bool:
            if expected_target_version is not None and target is not None:
                stored = conn.execute(
                    "SELECT sequence FROM kv_aliases WHERE repository = ? AND alias = ?",
                    (repository, alias),
                ).fetchone()
                if stored is not None and stored[0] > sequence:
                    return False
                head = conn.execute(
                    f"SELECT version FROM kv_heads WHERE {_SCOPE}", (repository, target)
                ).fetchone()
                found = head[0] if head else None
                if found != expected_target_version:
                    raise target_version_mismatch(
                        repository, alias, target, expected_target_version, found
                    )
            cur = conn.execute(
                "INSERT INTO kv_aliases VALUES (?, ?, ?, ?) "
                "ON CONFLICT (repository, alias) DO UPDATE SET target = excluded.target, "
                "sequence = excluded.sequence WHERE excluded.sequence >= kv_aliases.sequence",
                (repository, alias, target, sequence),
            )
            return cur.rowcount > 0

        return await self._write(f"set alias {repository}:{alias}", run)

    async def prune_tombstones(self, scope: ChannelScope, *, below_sequence: int) -> int:
        validate_sequence(below_sequence, "below_sequence")
        sql = f"DELETE FROM kv_tombstones WHERE {_SCOPE} AND sequence < ?"
        args = (scope.repository, scope.channel, below_sequence)
        return await self._write(
            f"prune tombstones of {scope}", lambda c: c.execute(sql, args).rowcount
        )

    async def drop_channel(self, scope: ChannelScope) -> None:
        def run(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT alias FROM kv_aliases WHERE repository = ? AND target = ?",
                (scope.repository, scope.channel),
            ).fetchone()
            if row is not None:
                raise FailedPrecondition(
                    f"channel {scope} is the target of alias {row[0]!r}; re-point it first",
                    field="channel",
                )
            for table in ("kv_documents", "kv_tombstones", "kv_index", "kv_heads"):
                conn.execute(
                    f"DELETE FROM {table} WHERE {_SCOPE}", (scope.repository, scope.channel)
                )

        await self._write(f"drop channel {scope}", run)

    async def copy_step(
        self,
        source: ChannelScope,
        target: ChannelScope,
        *,
        cursor: str,
        sequence: int,
        expected_head_sequence: int,
        unless_alias: str | None = None,
        keep_kind: str | None = None,
        limit: int = COPY_CHUNK,
    ) -> CopyStep:
        at = check_copy(
            source, target, cursor, sequence, expected_head_sequence, unless_alias, keep_kind, limit
        )

        def run(conn: sqlite3.Connection) -> CopyStep:
            sqlite_apply.guard(conn, target, unless_alias, expected_head_sequence, "copy")
            return sqlite_copy.copy_step(
                conn, source, target, at, sequence=sequence, keep_kind=keep_kind, limit=limit
            )

        return await self._write(f"copy {source} to {target}", run)

    # ------------------------------------------------------------------ reads
    async def resolve(self, repository: str, channel: str) -> ChannelScope:
        validate_repository(repository)
        validate_channel(channel)
        row = await self._read(
            "resolve",
            lambda c: c.execute(
                "SELECT target FROM kv_aliases WHERE repository = ? AND alias = ?",
                (repository, channel),
            ).fetchone(),
        )
        return ChannelScope(repository, row[0] if row and row[0] else channel)

    async def head(self, scope: ChannelScope) -> ChannelHead | None:
        row = await self._read(
            "head",
            lambda c: c.execute(
                f"SELECT version, sequence, updated_at FROM kv_heads WHERE {_SCOPE}",
                (scope.repository, scope.channel),
            ).fetchone(),
        )
        return ChannelHead(row[0], row[1], row[2]) if row else None

    async def get(self, scope: ChannelScope, kind: str, name: str) -> Document | None:
        return (await self.get_many(scope, kind, [name]))[0]

    async def get_many(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[Document | None]:
        check_read(scope, kind, names)
        wanted = list(dict.fromkeys(names))

        def run(conn: sqlite3.Connection) -> dict[str, Document]:
            found: dict[str, Document] = {}
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                docs, _ = _documents(
                    conn,
                    kind,
                    "SELECT name, body, version, sequence FROM kv_documents "
                    f"WHERE {_SCOPE} AND kind = ? AND name IN ({marks})",
                    (scope.repository, scope.channel, kind, *chunk),
                )
                for doc in docs:
                    found[doc.name] = doc
            return found

        found = await self._read("get", run) if wanted else {}
        return [found.get(name) for name in names]

    async def index_sets(
        self, scope: ChannelScope, kind: str, names: Sequence[str]
    ) -> list[str | None]:
        check_read(scope, kind, names)
        wanted = list(dict.fromkeys(names))

        def run(conn: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                for name, indexes in conn.execute(
                    "SELECT name, indexes FROM kv_documents "
                    f"WHERE {_SCOPE} AND kind = ? AND name IN ({marks})",
                    (scope.repository, scope.channel, kind, *chunk),
                ):
                    found[name] = indexes
            return found

        found = await self._read("get", run) if wanted else {}
        return [found.get(name) for name in names]

    async def list_documents(
        self, scope: ChannelScope, kind: str, *, first: int, after: str | None = None
    ) -> Page[Document]:
        check_read(scope, kind)
        check_first(first)
        cursor = decode_cursor(after)
        where = f"{_SCOPE} AND kind = ?"
        args: tuple[Any, ...] = (scope.repository, scope.channel, kind)
        return await self._read(
            "list",
            lambda c: _page(
                c,
                kind,
                f"SELECT count(*) FROM kv_documents WHERE {where}",
                "SELECT name, body, version, sequence FROM kv_documents "
                f"WHERE {where} AND name > ? ORDER BY name LIMIT ?",
                args,
                cursor,
                first,
            ),
            one_statement=True,
        )

    async def lookup(
        self,
        scope: ChannelScope,
        kind: str,
        index: str,
        value: str,
        *,
        first: int,
        after: str | None = None,
    ) -> Page[Document]:
        check_read(scope, kind)
        validate_index_name(index)
        validate_index_value(value, index)
        check_first(first)
        cursor = decode_cursor(after)
        where = "i.repository = ? AND i.channel = ? AND i.kind = ? AND i.idx = ? AND i.value = ?"
        args: tuple[Any, ...] = (scope.repository, scope.channel, kind, index, value)
        return await self._read(
            "lookup",
            lambda c: _page(
                c,
                kind,
                f"SELECT count(*) FROM kv_index i WHERE {where}",
                "SELECT d.name, d.body, d.version, d.sequence FROM kv_index i JOIN kv_documents d"
                " ON d.repository = i.repository AND d.channel = i.channel AND d.kind = i.kind"
                f" AND d.name = i.name WHERE {where} AND i.name > ? ORDER BY i.name LIMIT ?",
                args,
                cursor,
                first,
            ),
            one_statement=True,
        )

    # ------------------------------------------------------------------ floor, lifecycle
    async def raw_bulk_set(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO kv_raw VALUES (?, ?)", pairs)

        await self._write("raw bulk set", run)

    async def raw_bulk_delete(self, keys: Sequence[str]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM kv_raw WHERE key = ?", [(key,) for key in keys])

        await self._write("raw bulk delete", run)

    async def raw_get(self, key: str) -> bytes | None:
        row = await self._read(
            "raw get",
            lambda c: c.execute("SELECT value FROM kv_raw WHERE key = ?", (key,)).fetchone(),
        )
        return bytes(row[0]) if row else None

    async def ping(self) -> None:
        await self._read("ping", lambda c: c.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def run() -> None:
            with self._writer_mutex:
                self._writer.close()
            while self._readers:
                self._readers.pop().close()

        await asyncio.to_thread(run)


def _page(
    conn: sqlite3.Connection,
    kind: str,
    count_sql: str,
    rows_sql: str,
    args: tuple[Any, ...],
    after: str | None,
    first: int,
) -> Page[Document]:
    rows, total = _documents(
        conn, kind, rows_sql, (*args, after or "", first + 1), count=(count_sql, args)
    )
    return page_from(sorted(rows, key=lambda d: d.name), first, total)


def _documents(
    conn: sqlite3.Connection,
    kind: str,
    rows_sql: str,
    args: tuple[Any, ...],
    *,
    count: tuple[str, tuple[Any, ...]] = ("SELECT 0", ()),
) -> tuple[list[Document], int]:
    """The documents ``rows_sql`` selects (``name, body, version, sequence``), in ONE step.

    Python's ``sqlite3`` takes the GIL back after every step, i.e. after every row fetched;
    with another thread of the process holding the GIL (``serve``'s worker preparing a
    projection chunk) each row waited for the GIL's switch interval (5 ms): a storefront page
    of 100 documents took 120-390 ms instead of 0.5 ms. So the rows come back as one row of
    two aggregates over the same rows: their fields as a JSON array and their bodies end to
    end in one BLOB, cut apart by their byte lengths; ``count``'s answer (a page's total: its
    SQL and parameters) comes in the same row, so a page is one statement and one snapshot.
    (Bodies past SQLite's cap on one value, ``SQLITE_LIMIT_LENGTH``, are read a row per step
    instead.)"""
    count_sql, count_args = count
    try:
        total, meta, bodies = conn.execute(
            f"SELECT ({count_sql}), json_group_array(json_array(name, version, sequence,"
            " length(CAST(body AS BLOB)))), CAST(group_concat(body, '') AS BLOB)"
            f" FROM ({rows_sql})",
            (*count_args, *args),
        ).fetchone()
    except sqlite3.DataError:  # the bodies exceed what one answer may hold: a step per row
        own = not conn.in_transaction  # a page read as one statement: one snapshot still
        if own:
            conn.execute("BEGIN")
        try:
            total = conn.execute(count_sql, count_args).fetchone()[0]
            rows = conn.execute(rows_sql, args).fetchall()
        finally:
            if own:
                conn.execute("COMMIT")
        return [Document(kind, *row) for row in rows], total
    found: list[Document] = []
    at = 0
    for name, version, sequence, size in json.loads(meta):
        found.append(Document(kind, name, bodies[at : at + size], version, sequence))
        at += size
    return found, total
