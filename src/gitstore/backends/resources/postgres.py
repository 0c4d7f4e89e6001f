"""The PostgreSQL resource store.

A ``psycopg_pool.AsyncConnectionPool`` opened by the first call; ``schema=<name>`` in the URL
keeps the tables in a schema of their own (``search_path`` on every connection). A write
locks its repository's row (``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT ... FOR
UPDATE``), so writes of one repository are serialised and resourceVersions never repeat;
reads run in ``REPEATABLE READ`` so a list and its version are one snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from gitstore.backends._postgres import SCHEMA_NAME, LazyPool, lock_migrations
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.resources.model import Resource
from gitstore.domain.resources.rules import Key, Plan, window_floor
from gitstore.domain.resources.watch import ResourceChange

from . import _rows as rows
from .base import DEFAULT_RETAIN, Planner, RepoState, ResourceStore, check_retain
from .migrations import TABLE, load_migrations

Conn = psycopg.AsyncConnection[Any]


class PostgresResourceStore(ResourceStore):
    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        max_size: int = 10,
        retain: int = DEFAULT_RETAIN,
        timeout: float = 10.0,
    ) -> None:
        if schema is not None and not SCHEMA_NAME.fullmatch(schema):
            raise InvalidArgument(
                f"schema {schema!r} must be a lowercase SQL identifier", field="resources.url"
            )
        self.retain = check_retain(retain)
        self.schema = schema
        self._pool = LazyPool(
            conninfo,
            what="resource store",
            name="gitstore-resources",
            schema=schema,
            min_size=1,
            max_size=max_size,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ plumbing
    @asynccontextmanager
    async def _tx(self, *, snapshot: bool = False) -> AsyncIterator[Conn]:
        async with self._pool.transaction() as conn:
            if snapshot:
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    async def close(self) -> None:
        await self._pool.close()

    async def migrate(self) -> int:
        migrations = load_migrations("postgres")
        async with self._tx() as conn:
            await lock_migrations(conn, "gitstore-resources-migrations", self.schema)
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (version INTEGER PRIMARY KEY, name TEXT)"
            )
            cur = await conn.execute(f"SELECT version FROM {TABLE}")
            applied = {r[0] for r in await cur.fetchall()}
            for m in migrations:
                if m.version not in applied:
                    await conn.execute(m.sql.encode())
                    await conn.execute(
                        f"INSERT INTO {TABLE} VALUES (%s, %s)",
                        (m.version, m.name),
                    )
        return len(migrations)

    # ------------------------------------------------------------------ steps
    @staticmethod
    async def _read_state(conn: Conn, repository_id: str, *, lock: bool = False) -> RepoState:
        query = "SELECT version, floor, commit_sha FROM resource_repos WHERE repository_id = %s"
        cur = await conn.execute(query + (" FOR UPDATE" if lock else ""), (repository_id,))
        row = await cur.fetchone()
        return RepoState(int(row[0]), int(row[1]), row[2]) if row else RepoState()

    async def _transact(self, repository_id: str, keys: Sequence[Key], planner: Planner) -> Plan:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO resource_repos VALUES (%s, 0, 0, '') ON CONFLICT DO NOTHING",
                (repository_id,),
            )
            state = await self._read_state(conn, repository_id, lock=True)
            existing: dict[Key, Resource] = {}
            if keys:
                cur = await conn.execute(
                    "SELECT kind_key, name, body FROM resources WHERE repository_id = %s AND "
                    "(kind_key, name) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                    (repository_id, [k[0] for k in keys], [k[1] for k in keys]),
                )
                for kind, name, body in await cur.fetchall():
                    existing[(kind, name)] = rows.resource(repository_id, body)
            plan, commit = planner(state, existing)
            if not plan.changes and commit in (None, state.commit):
                return plan
            async with conn.cursor() as cur:
                if plan.puts:
                    await cur.executemany(
                        "INSERT INTO resources VALUES (%s, %s, %s, %s, %s) ON CONFLICT "
                        "(repository_id, kind_key, name) DO UPDATE SET resource_version = "
                        "excluded.resource_version, body = excluded.body",
                        rows.put_rows(plan),
                    )
                if plan.removes:
                    await cur.executemany(
                        "DELETE FROM resources WHERE repository_id = %s AND kind_key = %s "
                        "AND name = %s",
                        rows.remove_rows(plan),
                    )
                if plan.changes:
                    await cur.executemany(
                        f"INSERT INTO resource_changes {rows.CHANGE_COLUMNS} VALUES "
                        "(%s, %s, %s, %s, %s, %s, %s)",
                        rows.change_rows(plan),
                    )
            floor = window_floor(state.floor, plan.version, self.retain)
            if floor > state.floor:
                await conn.execute(
                    "DELETE FROM resource_changes WHERE repository_id = %s AND "
                    "resource_version <= %s",
                    (repository_id, floor),
                )
            await conn.execute(
                "UPDATE resource_repos SET version = %s, floor = %s, commit_sha = %s "
                "WHERE repository_id = %s",
                (plan.version, floor, commit or state.commit, repository_id),
            )
            return plan

    async def _state(self, repository_id: str) -> RepoState:
        async with self._tx() as conn:
            return await self._read_state(conn, repository_id)

    async def _get(self, repository_id: str, key: Key) -> Resource | None:
        async with self._tx() as conn:
            cur = await conn.execute(
                "SELECT body FROM resources WHERE repository_id = %s AND kind_key = %s "
                "AND name = %s",
                (repository_id, *key),
            )
            row = await cur.fetchone()
        return rows.resource(repository_id, row[0]) if row else None

    async def _list(
        self,
        repository_id: str,
        kind: str | None,
        after: Key | None = None,
        limit: int | None = None,
    ) -> tuple[list[Resource], int]:
        async with self._tx(snapshot=True) as conn:
            version = (await self._read_state(conn, repository_id)).version
            query = "SELECT body FROM resources WHERE repository_id = %s"
            params: tuple[Any, ...] = (repository_id,)
            if kind is not None:
                query += " AND kind_key = %s"
                params += (kind,)
            if after is not None:
                query += (
                    ' AND (kind_key COLLATE "C" > %s OR (kind_key = %s AND name COLLATE "C" > %s))'
                )
                params += (after[0], after[0], after[1])
            query += ' ORDER BY kind_key COLLATE "C", name COLLATE "C"'
            if limit is not None:
                query += " LIMIT %s"
                params += (limit,)
            cur = await conn.execute(query.encode(), params)
            found = await cur.fetchall()
        return [rows.resource(repository_id, r[0]) for r in found], version

    async def _changes(
        self, repository_id: str, after: int, limit: int
    ) -> tuple[list[ResourceChange], RepoState]:
        async with self._tx(snapshot=True) as conn:
            state = await self._read_state(conn, repository_id)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT * FROM resource_changes WHERE repository_id = %s AND "
                "resource_version > %s ORDER BY resource_version LIMIT %s",
                (repository_id, after, limit),
            )
            found = await cur.fetchall()
        return [rows.change(repository_id, r) for r in found], state
