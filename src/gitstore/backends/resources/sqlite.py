"""The embedded resource store: one SQLite file in the data dir (WAL, ``synchronous=FULL``:
a write is fsynced before it is acknowledged, so resourceVersions never go back after a
power loss; ``BEGIN IMMEDIATE``).

Every call runs on a worker thread holding the store's lock; a write is one ``BEGIN
IMMEDIATE`` transaction, so writers in other processes on the same file (``serve``'s worker
and API) are serialised by SQLite itself (``busy_timeout``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gitstore.backends._sqlite import connect as sqlite_connect
from gitstore.domain.errors import Unavailable
from gitstore.domain.resources.model import Resource
from gitstore.domain.resources.rules import Key, Plan, window_floor
from gitstore.domain.resources.watch import ResourceChange

from . import _rows as rows
from . import _sqlite_bulk as bulk
from .base import DEFAULT_RETAIN, Planner, RepoState, ResourceStore, check_retain
from .migrations import TABLE, load_migrations

T = TypeVar("T")


class SqliteResourceStore(ResourceStore):
    def __init__(self, path: Path, *, retain: int = DEFAULT_RETAIN) -> None:
        self.path = Path(path)
        self.retain = check_retain(retain)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ plumbing
    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise Unavailable("the resource store is closed")
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite_connect(self.path, synchronous="FULL")  # see the module doc
            conn.row_factory = sqlite3.Row
            self._conn = conn
        return self._conn

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        def call() -> T:
            with self._lock:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result

        try:
            return await asyncio.to_thread(call)
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"the resource store {self.path} is unavailable: {exc}") from exc

    async def close(self) -> None:
        self._closed = True
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def migrate(self) -> int:
        migrations = load_migrations("sqlite")

        def run(conn: sqlite3.Connection) -> int:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (version INTEGER PRIMARY KEY, name TEXT)"
            )
            applied = {r[0] for r in conn.execute(f"SELECT version FROM {TABLE}")}
            for m in migrations:
                if m.version not in applied:
                    for statement in m.sql.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"INSERT INTO {TABLE} VALUES (?, ?)", (m.version, m.name))
            return len(migrations)

        return await self._run(run, write=True)

    # ------------------------------------------------------------------ steps
    @staticmethod
    def _read_state(conn: sqlite3.Connection, repository_id: str) -> RepoState:
        row = conn.execute(
            "SELECT version, floor, commit_sha FROM resource_repos WHERE repository_id = ?",
            (repository_id,),
        ).fetchone()
        return RepoState(row[0], row[1], row[2]) if row else RepoState()

    async def _transact(self, repository_id: str, keys: Sequence[Key], planner: Planner) -> Plan:
        def run(conn: sqlite3.Connection) -> Plan:
            state = self._read_state(conn, repository_id)
            plan, commit = planner(state, bulk.existing(conn, repository_id, keys))
            if not plan.changes and commit in (None, state.commit):
                return plan
            bulk.write(conn, plan)  # one statement per table (see ``_sqlite_bulk``)
            floor = window_floor(state.floor, plan.version, self.retain)
            if floor > state.floor:
                conn.execute(
                    "DELETE FROM resource_changes WHERE repository_id = ? AND "
                    "resource_version <= ?",
                    (repository_id, floor),
                )
            conn.execute(
                "INSERT INTO resource_repos VALUES (?, ?, ?, ?) ON CONFLICT (repository_id) "
                "DO UPDATE SET version = excluded.version, floor = excluded.floor, "
                "commit_sha = excluded.commit_sha",
                (repository_id, plan.version, floor, commit or state.commit),
            )
            return plan

        return await self._run(run, write=True)

    async def _state(self, repository_id: str) -> RepoState:
        return await self._run(lambda conn: self._read_state(conn, repository_id))

    async def _get(self, repository_id: str, key: Key) -> Resource | None:
        def run(conn: sqlite3.Connection) -> Resource | None:
            row = conn.execute(
                "SELECT body FROM resources WHERE repository_id = ? AND kind_key = ? AND name = ?",
                (repository_id, *key),
            ).fetchone()
            return rows.resource(repository_id, row[0]) if row else None

        return await self._run(run)

    async def _list(
        self,
        repository_id: str,
        kind: str | None,
        after: Key | None = None,
        limit: int | None = None,
    ) -> tuple[list[Resource], int]:
        def run(conn: sqlite3.Connection) -> tuple[list[Resource], int]:
            version = self._read_state(conn, repository_id).version
            query = "SELECT body FROM resources WHERE repository_id = ?"
            params: tuple[Any, ...] = (repository_id,)
            if kind is not None:
                query += " AND kind_key = ?"
                params += (kind,)
            if after is not None:
                query += " AND (kind_key > ? OR (kind_key = ? AND name > ?))"
                params += (after[0], after[0], after[1])
            query += " ORDER BY kind_key, name"
            if limit is not None:
                query += " LIMIT ?"
                params += (limit,)
            found = conn.execute(query, params).fetchall()
            return [rows.resource(repository_id, r[0]) for r in found], version

        return await self._run(run)

    async def _changes(
        self, repository_id: str, after: int, limit: int
    ) -> tuple[list[ResourceChange], RepoState]:
        def run(conn: sqlite3.Connection) -> tuple[list[ResourceChange], RepoState]:
            state = self._read_state(conn, repository_id)
            found = conn.execute(
                "SELECT * FROM resource_changes WHERE repository_id = ? AND resource_version > ?"
                " ORDER BY resource_version LIMIT ?",
                (repository_id, after, limit),
            ).fetchall()
            return [rows.change(repository_id, r) for r in found], state

        return await self._run(run)
