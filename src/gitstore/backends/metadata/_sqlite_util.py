"""Small helpers of the SQLite store, shared by ``sqlite`` and ``_sqlite_git``: the codec,
the write transaction and one-statement shortcuts (all run on the writer thread, except
``_one`` which the inline reads use too)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import _common as c
from . import _rows as rows

Conn = sqlite3.Connection
K = rows.Codec(c.to_micros, c.from_micros, lambda v: json.dumps(v), json.loads)


@contextmanager
def _write(conn: Conn) -> Iterator[None]:
    """A write transaction holding SQLite's write lock from the start."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _count_and_page(
    conn: Conn, count: str, count_params: list[Any], page: str, params: list[Any]
) -> tuple[list[sqlite3.Row], int]:
    """A total and a page read from one snapshot."""
    conn.execute("BEGIN")
    try:
        total = conn.execute(count, count_params).fetchone()[0]
        return conn.execute(page, params).fetchall(), total
    finally:
        conn.execute("COMMIT")


def _insert(conn: Conn, table: str, values: dict[str, Any]) -> None:
    conn.execute(rows.insert_sql(table, values, "?"), tuple(values.values()))


def _one(conn: Conn | sqlite3.Cursor, sql: str, *params: Any) -> Any:
    """The first row or None. Fetches all rows, so the statement is finished (an
    ``UPDATE ... RETURNING`` in autocommit mode commits only when it is)."""
    found = conn.execute(sql, params).fetchall()
    return found[0] if found else None


def _all(conn: Conn, sql: str, *params: Any) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _change(conn: Conn, sql: str, *params: Any) -> int:
    """Run one statement in its own (autocommit) transaction; return the rows it touched."""
    return conn.execute(sql, params).rowcount
