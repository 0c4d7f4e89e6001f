"""``apply`` and the write guards of the SQLite KV store (``sqlite``), inside the caller's
``BEGIN IMMEDIATE`` transaction: check the alias fence and the head precondition, read the
stored sequences and index entries of the batch's documents, decide in Python which writes
apply, then write the document, tombstone and index changes and the head.

**One statement per table, not one per row.** Python's ``sqlite3`` releases the GIL while
SQLite steps a statement and takes it back after each step; ``executemany`` steps once per
row. The worker prepares the next chunk in another thread (``worker/pipeline.py``), which
holds the GIL for long stretches, so every row of an ``executemany`` waited for the GIL's
switch interval (5 ms): the write crawled while the next chunk was prepared, and the two ran
one after the other instead of side by side. So every write here is ONE statement whose
rows come from a JSON array parameter (``json_each``), and a document's body is a slice
(``substr``) of one BLOB parameter holding the batch's bodies end to end; the stored reads
are one statement per table and kind answering one JSON array (``json_group_array``). (Bodies
totalling more than ``_sqlite.BULK_BYTES`` are written in several such statements: SQLite
caps a parameter's size.)
SQLite then does a batch's whole write without the GIL. Measured on the 20,000 captured
batches of a real first projection while another thread spins in Python: ``executemany``
~11 ms per index entry, this ~23 µs (docs/benchmarks.md, issue 16).
"""

from __future__ import annotations

import json
import sqlite3

from gitstore.backends._sqlite import bulk_parts
from gitstore.backends._sqlite import json_columns as _j
from gitstore.backends._sqlite import json_rows as _rows
from gitstore.backends.kv.base import ApplyResult, Batch, alias_fenced, head_mismatch, index_entries
from gitstore.domain.keys import ChannelScope

_SCOPE = "repository = ? AND channel = ?"


# The rows of one write, in a single statement each (``?1``/``?2``: repository, channel).
_INDEX_DEL = (
    "DELETE FROM kv_index WHERE repository = ?1 AND channel = ?2 AND (kind, idx, value, name)"
    f" IN (SELECT {_j(0, 1, 2, 3)} FROM json_each(?3))"
)
_TOMBS_DEL = (
    "DELETE FROM kv_tombstones WHERE repository = ?1 AND channel = ?2 AND (kind, name)"
    f" IN (SELECT {_j(0, 1)} FROM json_each(?3))"
)
_DOCS_DEL = (
    "DELETE FROM kv_documents WHERE repository = ?1 AND channel = ?2 AND (kind, name)"
    f" IN (SELECT {_j(0, 1)} FROM json_each(?3))"
)
# ``WHERE true``: an upsert's INSERT … SELECT needs a WHERE (SQLite's parsing ambiguity).
_DOCS_PUT = (
    f"INSERT INTO kv_documents SELECT ?1, ?2, {_j(0, 1)}, ?3, ?4,"
    f" substr(?5, {_j(2)}, {_j(3)}), {_j(4)} FROM json_each(?6) WHERE true"
    " ON CONFLICT (repository, channel, kind, name) DO UPDATE SET sequence = excluded.sequence,"
    " version = excluded.version, body = excluded.body, indexes = excluded.indexes"
)
_TOMBS_PUT = (
    f"INSERT OR REPLACE INTO kv_tombstones SELECT ?1, ?2, {_j(0, 1)}, ?3, ?4 FROM json_each(?5)"
)
_INDEX_PUT = f"INSERT OR IGNORE INTO kv_index SELECT ?1, ?2, {_j(0, 1, 2, 3)} FROM json_each(?3)"


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
        args = (scope.repository, scope.channel, kind, _rows(names))
        where = f"WHERE {_SCOPE} AND kind = ? AND name IN (SELECT value FROM json_each(?))"
        (tombs,) = conn.execute(
            f"SELECT json_group_array(json_array(name, sequence)) FROM kv_tombstones {where}",
            args,
        ).fetchone()
        for name, seq in json.loads(tombs):
            stored[(kind, name)] = (seq, "", False)
        (docs,) = conn.execute(
            "SELECT json_group_array(json_array(name, sequence, indexes))"
            f" FROM kv_documents {where}",
            args,
        ).fetchone()
        for name, seq, indexes in json.loads(docs):
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
    docs: list[tuple[str, str, bytes, str]] = []  # kind, name, body, indexes
    tombs: list[tuple[str, str]] = []
    gone_docs: list[tuple[str, str]] = []
    gone_tombs: list[tuple[str, str]] = []
    index_del: list[tuple[str, str, str, str]] = []
    index_add: list[tuple[str, str, str, str]] = []
    skipped = 0

    def reindex(kind: str, name: str, old: str, new: tuple[tuple[str, str], ...]) -> None:
        if not old:  # nothing stored (a new document): every entry is added, none removed
            index_add.extend([(kind, i, v, name) for i, v in new])  # OR IGNORE: repeats
            return
        before, after = index_entries(old), set(new)
        if before == after:
            return
        index_del.extend((kind, i, v, name) for i, v in before - after)
        index_add.extend((kind, i, v, name) for i, v in after - before)

    for up in batch.upserts:
        old_seq, old_indexes, live = stored.get((up.kind, up.name), _NOTHING)
        if old_seq > seq:
            skipped += 1
            continue
        if old_indexes != up.indexes:
            reindex(up.kind, up.name, old_indexes, up.entries)
        docs.append((up.kind, up.name, up.body, up.indexes))
        if old_seq and not live:
            gone_tombs.append((up.kind, up.name))
    for rm in batch.deletes:
        old_seq, old_indexes, live = stored.get((rm.kind, rm.name), _NOTHING)
        if old_seq > seq:
            skipped += 1
            continue
        reindex(rm.kind, rm.name, old_indexes, ())
        tombs.append((rm.kind, rm.name))
        if live:
            gone_docs.append((rm.kind, rm.name))

    if index_del:
        conn.execute(_INDEX_DEL, (r, c, _rows(index_del)))
    if gone_tombs:
        conn.execute(_TOMBS_DEL, (r, c, _rows(gone_tombs)))
    if gone_docs:
        conn.execute(_DOCS_DEL, (r, c, _rows(gone_docs)))
    for part in bulk_parts(conn, [len(d[2]) for d in docs]):
        rows, offset = [], 1  # substr() counts from 1
        for kind, name, body, indexes in (docs[i] for i in part):
            rows.append((kind, name, offset, len(body), indexes))
            offset += len(body)
        blob = b"".join(docs[i][2] for i in part)
        conn.execute(_DOCS_PUT, (r, c, seq, version, blob, _rows(rows)))
    if tombs:
        conn.execute(_TOMBS_PUT, (r, c, seq, version, _rows(tombs)))
    if index_add:
        conn.execute(_INDEX_PUT, (r, c, _rows(index_add)))
    advanced = batch.advance_head and seq >= current
    if advanced:
        conn.execute(
            "INSERT OR REPLACE INTO kv_heads VALUES (?, ?, ?, ?, ?)", (r, c, seq, version, now)
        )
    return ApplyResult(len(docs) + len(tombs), skipped, advanced)
