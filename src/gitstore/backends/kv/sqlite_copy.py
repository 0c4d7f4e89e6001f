"""``copy_step`` of the SQLite KV store: one short write transaction per step.

The cursor (``base.copy_cursor``) is ``["clear"]`` while the target is being emptied, then
``["copy", kind, name]`` (the last document copied; ``["copy"]`` before the first). A clear
step deletes up to ``limit`` rows of each of the target's tables (documents except
``keep_kind``, tombstones, index entries); a copy step picks the next ``limit`` live documents
of the source in primary-key order and copies them with ``INSERT … SELECT`` (stamped with the
step's sequence), and their index entries derived from each document's stored index JSON
(``json_each``: the same entries ``apply`` wrote). The caller runs each step in one
``BEGIN IMMEDIATE`` transaction, after the fence and head checks, so the write lock is held for
one chunk at a time and readers and other writers interleave between steps.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from gitstore.backends.kv.base import ChannelHead, CopyStep, copy_cursor
from gitstore.domain.keys import ChannelScope

_SCOPE = "repository = ? AND channel = ?"
# The first document row after the cursor (kind, name) in primary-key order.
_AFTER = f"{_SCOPE} AND kind != ? AND (kind, name) > (?, ?)"


def _head(conn: sqlite3.Connection, scope: ChannelScope) -> ChannelHead | None:
    row = conn.execute(
        f"SELECT version, sequence, updated_at FROM kv_heads WHERE {_SCOPE}",
        (scope.repository, scope.channel),
    ).fetchone()
    return ChannelHead(row[0], row[1], row[2]) if row else None


def _clear(conn: sqlite3.Connection, target: ChannelScope, keep: str, limit: int) -> int:
    """Delete up to ``limit`` rows of each table of ``target``: the rows up to the
    ``limit``-th primary key (a range delete on the primary key's index)."""
    r, c = target.repository, target.channel
    removed = 0
    kept: tuple[Any, ...] = (r, c, keep)  # documents of ``keep`` (and their entries) stay
    for table, key, where, args in (
        ("kv_documents", "kind, name", f"{_SCOPE} AND kind != ?", kept),
        ("kv_tombstones", "kind, name", _SCOPE, (r, c)),
        ("kv_index", "kind, idx, value, name", f"{_SCOPE} AND kind != ?", kept),
    ):
        last = conn.execute(
            f"SELECT {key} FROM {table} WHERE {where} ORDER BY {key} LIMIT 1 OFFSET ?",
            (*args, limit - 1),
        ).fetchone()
        if last is None:
            removed += conn.execute(f"DELETE FROM {table} WHERE {where}", args).rowcount
        else:
            marks = ", ".join("?" * len(last))
            removed += conn.execute(
                f"DELETE FROM {table} WHERE {where} AND ({key}) <= ({marks})", (*args, *last)
            ).rowcount
    return removed


def copy_step(
    conn: sqlite3.Connection,
    source: ChannelScope,
    target: ChannelScope,
    at: list[Any],
    *,
    sequence: int,
    keep_kind: str | None,
    limit: int,
) -> CopyStep:
    """One step (module doc), inside the caller's write transaction."""
    keep = keep_kind or ""
    head = _head(conn, source)
    if not at or at[0] == "clear":
        removed = _clear(conn, target, keep, limit)
        # A step that removed nothing from any table: the target is empty, copy next.
        return CopyStep(copy_cursor("clear") if removed else copy_cursor("copy"), removed, 0, head)
    after = (str(at[1]), str(at[2])) if len(at) == 3 else ("", "")
    src = (source.repository, source.channel, keep, *after)
    last = conn.execute(
        f"SELECT kind, name FROM kv_documents WHERE {_AFTER} ORDER BY kind, name LIMIT 1 OFFSET ?",
        (*src, limit - 1),
    ).fetchone()
    upto, bound = ("", ()) if last is None else (" AND (kind, name) <= (?, ?)", tuple(last))
    copied = conn.execute(
        "INSERT OR REPLACE INTO kv_documents SELECT ?, ?, kind, name, ?, version, body, indexes "
        f"FROM kv_documents WHERE {_AFTER}{upto}",
        (target.repository, target.channel, sequence, *src, *bound),
    ).rowcount
    conn.execute(
        "INSERT OR IGNORE INTO kv_index SELECT ?, ?, d.kind, j.key, v.value, d.name "
        "FROM kv_documents d, json_each(d.indexes) j, json_each(j.value) v "
        "WHERE d.repository = ? AND d.channel = ? AND d.kind != ? AND (d.kind, d.name) > (?, ?)"
        + upto.replace("(kind, name)", "(d.kind, d.name)"),
        (target.repository, target.channel, *src, *bound),
    )
    if last is None:
        return CopyStep(None, 0, copied, head)
    return CopyStep(copy_cursor("copy", *last), 0, copied, head)
