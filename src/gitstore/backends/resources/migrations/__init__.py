"""Schema migrations of the SQL resource stores, one directory per dialect.

They live with this backend, not with the metadata store's: the resource store may be a
different database (``GITSTORE_RESOURCES__URL``), and where it shares one, its own table
``resource_schema_migrations`` keeps the two histories apart. Same rules as the metadata
migrations: ``NNNN_name.sql``, numbered from 1 without gaps, the same numbers in both
dialects, never edited once applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Dialect = Literal["sqlite", "postgres"]
TABLE = "resource_schema_migrations"

_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: Dialect) -> list[Migration]:
    folder = resources.files(__package__).joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE.fullmatch(entry.name)
        if match is not None:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} resource migrations must be numbered 1..n without gaps")
    return found


def latest_version() -> int:
    return len(load_migrations("sqlite"))
