"""Versioned schema migrations for the SQL metadata stores, one directory per dialect.

``sqlite/NNNN_name.sql`` and ``postgres/NNNN_name.sql`` hold the same versions (a test checks
that both dialects list exactly the same numbers), numbered from 1 without gaps. A store's
``migrate()`` applies the pending ones in order, each in the same transaction as its row in
``schema_migrations (version, name, applied_at)``, while holding the database's migration lock
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock), so two
processes starting at once apply each migration exactly once.

Applied migrations are never edited: change the schema by adding the next number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Dialect = Literal["sqlite", "postgres"]

_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: Dialect) -> list[Migration]:
    """The dialect's migrations in version order; ``RuntimeError`` if the set is broken."""
    folder = resources.files(__package__).joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE.fullmatch(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations must be numbered 1..n without gaps: {versions}")
    return found


def latest_version() -> int:
    """The schema version every store reports once fully migrated."""
    return len(load_migrations("sqlite"))
