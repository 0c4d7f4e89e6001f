"""Small helpers of the PostgreSQL store, shared by ``postgres`` and ``_postgres_git``: the
codec and one-statement shortcuts on a borrowed connection."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from . import _rows as rows

Row = dict[str, Any]
Conn = psycopg.AsyncConnection[Any]
K = rows.Codec(lambda v: v, lambda v: v.astimezone(UTC), Jsonb, lambda v: v)


async def _one(conn: Conn, query: Any, *params: Any) -> Row | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, params)
    return await cur.fetchone()


async def _all(conn: Conn, query: Any, *params: Any) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, params)
    return await cur.fetchall()


async def _count(conn: Conn, query: str, *params: Any) -> int:
    row = await _one(conn, query, *params)
    return int(row["n"]) if row else 0


async def _insert(conn: Conn, table: str, values: dict[str, Any]) -> bool:
    """Insert a row unless it conflicts with a unique constraint; True if it was inserted.

    ``ON CONFLICT DO NOTHING`` also waits for a concurrent transaction inserting the same
    key, so of two racing creators exactly one gets True."""
    query = rows.insert_sql(table, values, "%s", " ON CONFLICT DO NOTHING RETURNING 1 AS ok")
    return await _one(conn, query, *values.values()) is not None
