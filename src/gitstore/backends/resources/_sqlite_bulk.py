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
(``json_group_array``), ``READ_CHUNK`` keys per statement.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

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
    f" SELECT ?1, {_j(0, 1, 2, 3)}, {_text(4)}, {_j(6)} FROM json_each(?2)"
)


class _Texts:
    """Texts laid end to end in one BLOB; each is known by its (1-based offset, length)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 1

    def add(self, text: str) -> tuple[int, int]:
        data = text.encode()
        self.parts.append(data)
        at, self.offset = self.offset, self.offset + len(data)
        return at, len(data)

    def blob(self) -> bytes:
        return b"".join(self.parts)


def existing(
    conn: sqlite3.Connection, repository_id: str, keys: Sequence[Key]
) -> dict[Key, Resource]:
    """The stored resources of ``keys`` (absent keys are left out)."""
    found: dict[Key, Resource] = {}
    for start in range(0, len(keys), READ_CHUNK):
        part = [list(key) for key in keys[start : start + READ_CHUNK]]
        (answer,) = conn.execute(_EXISTING, (repository_id, _json(part))).fetchone()
        for kind_key, name, body in json.loads(answer):
            found[(kind_key, name)] = Resource.from_object(repository_id, body)
    return found


def write(conn: sqlite3.Connection, plan: Plan) -> None:
    """Put, remove and log what ``plan`` says, one statement each."""
    repository_id = plan.repository_id
    if plan.puts:
        texts = _Texts()
        put = [
            [key[0], key[1], r.resource_version, *texts.add(rows.dumps(r.to_object()))]
            for key, r in plan.puts.items()
        ]
        conn.execute(_PUT, (repository_id, _json(put), texts.blob()))
    if plan.removes:
        conn.execute(_REMOVE, (repository_id, _json([list(key) for key in plan.removes])))
    if plan.changes:
        texts = _Texts()
        log = [
            [
                c.resource_version,
                c.type,
                c.kind,
                c.name,
                *texts.add(rows.dumps(c.object)),
                None if c.previous_labels is None else rows.dumps(c.previous_labels),
            ]
            for c in plan.changes
        ]
        conn.execute(_LOG, (repository_id, _json(log), texts.blob()))
