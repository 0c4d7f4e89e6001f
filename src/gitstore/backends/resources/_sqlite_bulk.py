"""The bulk reads and writes of one resource-store transaction on SQLite (``sqlite``).

A commit of 100,000 products is one ``apply_commit``: 100,000 stored resources read, as
many rows put and logged. Python's ``sqlite3`` releases the GIL while SQLite steps a
statement and takes it back after each step, so a statement per row (``execute`` in a loop,
``executemany``) waits for the GIL once per row; in a worker whose other thread prepares a
projection chunk (holding the GIL for long stretches) each of those waits lasted the GIL's
switch interval (5 ms), and a big commit's resource sync stalled for minutes. Here every
step is one statement for many rows (as ``kv/sqlite_apply.py`` does): keys and rows go in
as one JSON array parameter (``json_each``), texts (bodies, logged objects) as slices of
one BLOB parameter (``substr``, then ``CAST … AS TEXT``: the stored text is the exact text
``_rows.dumps`` made), and stored resources come back as one JSON array
(``json_group_array``), ``READ_CHUNK`` keys per statement. SQLite caps the size of a
parameter and of an answer (``SQLITE_LIMIT_LENGTH``): texts over ``_sqlite.BULK_BYTES`` are
written in several statements, and a read whose answer would exceed the cap falls back to a
statement per key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from gitstore.backends._sqlite import bulk_parts
from gitstore.backends._sqlite import json_columns as _j
from gitstore.backends._sqlite import json_rows as _json
from gitstore.domain.resources.model import Resource
from gitstore.domain.resources.rules import Key, Plan

from . import _rows as rows

READ_CHUNK = 5_000  # keys per read: the answer is one JSON text of their bodies


def _text(position: int) -> str:
    """The text a row's (offset, length) at ``position`` cuts out of the BLOB ``?3``."""
    return f"CAST(substr(?3, {_j(position)}, {_j(position + 1)}) AS TEXT)"


_EXISTING = (
    "SELECT json_group_array(json_array(kind_key, name, json(body))) FROM resources"
    " WHERE repository_id = ?1 AND (kind_key, name)"
    f" IN (SELECT {_j(0, 1)} FROM json_each(?2))"
)
_PUT = (
    f"INSERT INTO resources SELECT ?1, {_j(0, 1, 2)}, {_text(3)} FROM json_each(?2) WHERE true"
    " ON CONFLICT (repository_id, kind_key, name) DO UPDATE SET"
    " resource_version = excluded.resource_version, body = excluded.body"
)
_REMOVE = (
    "DELETE FROM resources WHERE repository_id = ?1 AND (kind_key, name)"
    f" IN (SELECT {_j(0, 1)} FROM json_each(?2))"
)
_LOG = (
    f"INSERT INTO resource_changes {rows.CHANGE_COLUMNS}"
    f" SELECT ?1, {_j(0, 1, 2, 3)}, {_text(5)}, {_j(4)} FROM json_each(?2)"
)


def _slices(
    conn: sqlite3.Connection, rows: list[tuple[list[Any], str]]
) -> list[tuple[list[list[Any]], bytes]]:
    """``(fields, text)`` rows as parts (``_sqlite.bulk_parts``): per part, each row's fields
    followed by its text's (1-based offset, length) in the part's BLOB, and that BLOB."""
    data = [text.encode() for _, text in rows]
    parts = []
    for part in bulk_parts(conn, [len(d) for d in data]):
        fields, offset = [], 1
        for i in part:
            fields.append([*rows[i][0], offset, len(data[i])])
            offset += len(data[i])
        parts.append((fields, b"".join(data[i] for i in part)))
    return parts


def existing(
    conn: sqlite3.Connection, repository_id: str, keys: Sequence[Key]
) -> dict[Key, Resource]:
    """The stored resources of ``keys`` (absent keys are left out)."""
    found: dict[Key, Resource] = {}
    for start in range(0, len(keys), READ_CHUNK):
        part = keys[start : start + READ_CHUNK]
        try:
            (answer,) = conn.execute(
                _EXISTING, (repository_id, _json([list(key) for key in part]))
            ).fetchone()
        except sqlite3.DataError:  # their bodies exceed what one answer may hold
            found.update(_one_by_one(conn, repository_id, part))
            continue
        for kind_key, name, body in json.loads(answer):
            found[(kind_key, name)] = Resource.from_object(repository_id, body)
    return found


def _one_by_one(
    conn: sqlite3.Connection, repository_id: str, keys: Sequence[Key]
) -> dict[Key, Resource]:
    found: dict[Key, Resource] = {}
    for key in keys:
        row = conn.execute(
            "SELECT body FROM resources WHERE repository_id = ? AND kind_key = ? AND name = ?",
            (repository_id, *key),
        ).fetchone()
        if row is not None:
            found[key] = rows.resource(repository_id, row[0])
    return found


def write(conn: sqlite3.Connection, plan: Plan) -> None:
    """Put, remove and log what ``plan`` says, one statement each (or a few, ``_slices``)."""
    repository_id = plan.repository_id
    puts = [
        ([key[0], key[1], r.resource_version], rows.dumps(r.to_object()))
        for key, r in plan.puts.items()
    ]
    for fields, blob in _slices(conn, puts):
        conn.execute(_PUT, (repository_id, _json(fields), blob))
    if plan.removes:
        conn.execute(_REMOVE, (repository_id, _json([list(key) for key in plan.removes])))
    log = [
        (
            [
                c.resource_version,
                c.type,
                c.kind,
                c.name,
                None if c.previous_labels is None else rows.dumps(c.previous_labels),
            ],
            rows.dumps(c.object),
        )
        for c in plan.changes
    ]
    for fields, blob in _slices(conn, log):
        conn.execute(_LOG, (repository_id, _json(fields), blob))
