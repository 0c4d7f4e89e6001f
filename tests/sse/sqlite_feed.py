"""A durable ``ResourceFeed`` double on one SQLite file (a test stand-in for the resource store).

Two processes share the file: the test writes (``put``) and publishes pokes, the API server
under test reads (``list_resources`` / ``changes_since`` / ``current_version``). Every change
is kept (nothing expires).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from gitstore.domain.resources.watch import ResourceChange

SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
  repo TEXT NOT NULL, rv INTEGER NOT NULL, type TEXT NOT NULL, kind TEXT NOT NULL,
  name TEXT NOT NULL, object TEXT NOT NULL, PRIMARY KEY (repo, rv));
CREATE TABLE IF NOT EXISTS objects (
  repo TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, object TEXT NOT NULL,
  PRIMARY KEY (repo, kind, name));
"""


class SqliteFeed:
    def __init__(self, path: Path | str) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(SCHEMA)

    def put(self, repo: str, kind: str, name: str, spec: dict[str, Any]) -> int:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = db.execute(
                "SELECT COALESCE(MAX(rv), 0) + 1 FROM changes WHERE repo = ?", (repo,)
            ).fetchone()
            found = db.execute(
                "SELECT 1 FROM objects WHERE repo = ? AND kind = ? AND name = ?", (repo, kind, name)
            ).fetchone()
            obj = {
                "apiVersion": "gitstore.dev/v1",
                "kind": kind,
                "metadata": {"name": name, "labels": {}, "resourceVersion": str(version)},
                "spec": spec,
                "status": {},
            }
            text = json.dumps(obj)
            db.execute(
                "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?)",
                (repo, version, "MODIFIED" if found else "ADDED", kind, name, text),
            )
            db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)", (repo, kind, name, text)
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(version)

    async def list_resources(
        self, repository_id: str, kind: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        rows = self.db.execute(
            "SELECT kind, object FROM objects WHERE repo = ? ORDER BY kind, name", (repository_id,)
        ).fetchall()
        objects = [json.loads(o) for k, o in rows if kind is None or k == kind]
        return objects, await self.current_version(repository_id)

    async def changes_since(
        self, repository_id: str, resource_version: int, *, limit: int = 1000
    ) -> list[ResourceChange]:
        rows = self.db.execute(
            "SELECT rv, type, kind, name, object FROM changes WHERE repo = ? AND rv > ?"
            " ORDER BY rv LIMIT ?",
            (repository_id, resource_version, limit),
        ).fetchall()
        return [
            ResourceChange(repository_id, rv, kind_of, kind, name, json.loads(obj))
            for rv, kind_of, kind, name, obj in rows
        ]

    async def current_version(self, repository_id: str) -> int:
        (version,) = self.db.execute(
            "SELECT COALESCE(MAX(rv), 0) FROM changes WHERE repo = ?", (repository_id,)
        ).fetchone()
        return int(version)

    def close(self) -> None:
        self.db.close()
