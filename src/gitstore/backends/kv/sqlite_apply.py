"""``apply`` and the write guards of the SQLite KV store (``sqlite``), inside the caller's
``BEGIN IMMEDIATE`` transaction: check the alias fence and the head precondition, read the
stored sequences and index entries of the batch's documents (chunked ``IN`` queries), decide
in Python which writes apply, then ``executemany`` the document, tombstone and index changes
and the head.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from gitstore.backends.kv.base import ApplyResult, Batch, alias_fenced, head_mismatch, index_entries
from gitstore.domain.keys import ChannelScope

T = TypeVar("T")

_CHUNK = 500
_SCOPE = "repository = ? AND channel = ?"
_DOC = f"{_SCOPE} AND kind = ? AND name = ?"


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _stored(
    conn: sqlite3.Connection, scope: ChannelScope, batch: Batch
) -> dict[tuple[str, str], tuple[int, str, bool]]:
    """(kind, name) -> (stored sequence, stored index JSON, is it live)."""
    by_kind: dict[str, list[str]] = {}
    for kind, name in [(u.kind, u.name) for u in batch.upserts] + [
        (d.kind, d.name) for d in batch.deletes
    ]:
        by_kind.setdefault(kind, []).append(name)
    stored: dict[tuple[str, str], tuple[int, str, bool]] = {}
    for kind, names in by_kind.items():
        for chunk in _chunks(names):
            marks = ",".join("?" * len(chunk))
            args = (scope.repository, scope.channel, kind, *chunk)
            where = f"WHERE {_SCOPE} AND kind = ? AND name IN ({marks})"
            for name, seq in conn.execute(
                f"SELECT name, sequence FROM kv_tombstones {where}", args
            ):
                stored[(kind, name)] = (seq, "", False)
            for name, seq, indexes in conn.execute(
                f"SELECT name, sequence, indexes FROM kv_documents {where}", args
            ):
                stored[(kind, name)] = (seq, indexes, True)
    return stored


_NOTHING = (0, "", False)


def guard(
    conn: sqlite3.Connection,
    scope: ChannelScope,
    unless_alias: str | None,
    expected: int | None,
    what: str,
) -> int:
    """Check a write's alias fence and head precondition; return the head sequence."""
    r, c = scope.repository, scope.channel
    if unless_alias is not None:
        fence = conn.execute(
            "SELECT target FROM kv_aliases WHERE repository = ? AND alias = ?",
            (r, unless_alias),
        ).fetchone()
        if fence is not None and fence[0] == c:
            raise alias_fenced(scope, unless_alias)
    row = conn.execute(f"SELECT sequence FROM kv_heads WHERE {_SCOPE}", (r, c)).fetchone()
    current: int = row[0] if row else 0
    if expected is not None and expected != current:
        raise head_mismatch(scope, current, what, expected)
    return current


def apply(conn: sqlite3.Connection, batch: Batch, now: float) -> ApplyResult:
    scope, seq, version = batch.scope, batch.sequence, batch.version
    r, c = scope.repository, scope.channel
    current = guard(conn, scope, batch.unless_alias, batch.expected_head_sequence, "batch")
    stored = _stored(conn, scope, batch)
    docs: list[tuple[Any, ...]] = []
    tombs: list[tuple[Any, ...]] = []
    gone_docs: list[tuple[str, ...]] = []
    gone_tombs: list[tuple[str, ...]] = []
    index_del: list[tuple[str, ...]] = []
    index_add: list[tuple[str, ...]] = []
    skipped = 0

    def reindex(kind: str, name: str, old: str, new: tuple[tuple[str, str], ...]) -> None:
        if not old:  # nothing stored (a new document): every entry is added, none removed
            index_add.extend([(r, c, kind, i, v, name) for i, v in new])  # OR IGNORE: repeats
            return
        before, after = index_entries(old), set(new)
        if before == after:
            return
        index_del.extend((r, c, kind, i, v, name) for i, v in before - after)
        index_add.extend((r, c, kind, i, v, name) for i, v in after - before)

    for up in batch.upserts:
        old_seq, old_indexes, live = stored.get((up.kind, up.name), _NOTHING)
        if old_seq > seq:
            skipped += 1
            continue
        if old_indexes != up.indexes:
            reindex(up.kind, up.name, old_indexes, up.entries)
        docs.append((r, c, up.kind, up.name, seq, version, up.body, up.indexes))
        if old_seq and not live:
            gone_tombs.append((r, c, up.kind, up.name))
    for rm in batch.deletes:
        old_seq, old_indexes, live = stored.get((rm.kind, rm.name), _NOTHING)
        if old_seq > seq:
            skipped += 1
            continue
        reindex(rm.kind, rm.name, old_indexes, ())
        tombs.append((r, c, rm.kind, rm.name, seq, version))
        if live:
            gone_docs.append((r, c, rm.kind, rm.name))

    conn.executemany(
        f"DELETE FROM kv_index WHERE {_SCOPE} AND kind = ? AND idx = ? AND value = ? AND name = ?",
        index_del,
    )
    conn.executemany(f"DELETE FROM kv_tombstones WHERE {_DOC}", gone_tombs)
    conn.executemany(f"DELETE FROM kv_documents WHERE {_DOC}", gone_docs)
    conn.executemany(
        "INSERT INTO kv_documents VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (repository, channel, kind, name) DO UPDATE SET sequence = excluded.sequence,"
        " version = excluded.version, body = excluded.body, indexes = excluded.indexes",
        docs,
    )
    conn.executemany("INSERT OR REPLACE INTO kv_tombstones VALUES (?, ?, ?, ?, ?, ?)", tombs)
    conn.executemany("INSERT OR IGNORE INTO kv_index VALUES (?, ?, ?, ?, ?, ?)", index_add)
    advanced = batch.advance_head and seq >= current
    if advanced:
        conn.execute(
            "INSERT OR REPLACE INTO kv_heads VALUES (?, ?, ?, ?, ?)", (r, c, seq, version, now)
        )
    return ApplyResult(len(docs) + len(tombs), skipped, advanced)
