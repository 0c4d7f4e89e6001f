"""SQLite's cap on one value (``SQLITE_LIMIT_LENGTH``) and the one-statement bulk paths.

The SQLite KV and resource store write a batch's texts as slices of one BLOB parameter and
read many rows as one aggregated answer (``backends/_sqlite.py``). Both are capped by
SQLite (1,000,000,000 bytes by default: 2,000 manifests of the allowed 1 MiB would pass
it). Here the connections get a cap of 30,000 bytes, so a few dozen documents of ~1 KB
already need several write statements and the row-by-row read fallback; everything must
still be written and read back exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gitstore.backends import _sqlite
from gitstore.backends.kv import Batch, open_kv_store
from gitstore.backends.kv import sqlite as kv_sqlite
from gitstore.backends.resources import sqlite as resources_sqlite
from gitstore.backends.resources.sqlite import SqliteResourceStore
from gitstore.domain.keys import ChannelScope
from gitstore.domain.resources.model import SpecDelete, SpecUpsert

LIMIT = 30_000
SCOPE = ChannelScope("acme/catalog", "live")
VERSION = "a" * 40


@pytest.fixture
def capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SQLite connection the two stores open gets ``LIMIT`` as its value cap."""

    def capping(connect: Any) -> Any:
        def opened(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn: sqlite3.Connection = connect(*args, **kwargs)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LIMIT)
            return conn

        return opened

    monkeypatch.setattr(kv_sqlite, "_connect", capping(kv_sqlite._connect))
    monkeypatch.setattr(resources_sqlite, "sqlite_connect", capping(_sqlite.connect))


def test_rows_are_cut_into_parts_within_the_cap() -> None:
    conn = sqlite3.connect(":memory:")
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 4_000)  # a cap of 1,000 bytes
    parts = _sqlite.bulk_parts(conn, [400, 400, 400, 2_500, 100, 999, 1])
    assert parts == [range(0, 2), range(2, 3), range(3, 4), range(4, 5), range(5, 7)]
    assert _sqlite.bulk_parts(conn, []) == []


@pytest.mark.usefixtures("capped")
async def test_kv_writes_and_reads_documents_past_the_cap(tmp_path: Path) -> None:
    kv = await open_kv_store(f"sqlite:///{tmp_path / 'kv.sqlite3'}")
    try:
        values = {
            f"p-{i:03}": {"title": f"Product {i} é✓", "text": "x" * (900 + i)} for i in range(40)
        }
        values["big"] = {"text": "y" * 12_000}  # alone past the part cap (LIMIT / 4)
        batch = Batch(SCOPE, 1, VERSION)
        for name, value in values.items():
            batch.upsert("product", name, value, indexes={"category": "c"})
        assert (await kv.apply(batch)).applied == 41
        docs = await kv.get_many(SCOPE, "product", list(values))
        assert [d.value() if d else None for d in docs] == list(values.values())
        page = await kv.list_documents(SCOPE, "product", first=100)
        assert page.total_count == 41 and [d.name for d in page.items] == sorted(values)
        assert all(d.value() == values[d.name] for d in page.items)
        found = await kv.lookup(SCOPE, "product", "category", "c", first=10)
        assert found.total_count == 41 and found.has_next_page
        assert [d.name for d in found.items] == sorted(values)[:10]
    finally:
        await kv.close()


@pytest.mark.usefixtures("capped")
async def test_resource_commits_past_the_cap(tmp_path: Path) -> None:
    store = SqliteResourceStore(tmp_path / "resources.sqlite3")
    await store.migrate()
    try:

        def spec(i: int, rev: int) -> SpecUpsert:
            text = f"{rev} é✓ " + "z" * (900 + i)
            return SpecUpsert("Product", f"p-{i:03}", "gitstore.dev/v1", {"text": text})

        await store.apply_commit("acme/catalog", "c1", [spec(i, 0) for i in range(40)], [])
        await store.apply_commit(  # reads the 40 stored resources back: past the cap
            "acme/catalog",
            "c2",
            [spec(i, 1) for i in range(0, 40, 2)],
            [SpecDelete("Product", "p-001")],
        )
        for i in (0, 1, 2, 3, 39):
            got = await store.get("acme/catalog", "Product", f"p-{i:03}")
            if i == 1:
                assert got is None
            else:
                assert got is not None and got.spec == spec(i, 1 if i % 2 == 0 else 0).spec
        changes = await store.changes_since("acme/catalog", 0, limit=1000)
        assert [c.type for c in changes].count("MODIFIED") == 20 and len(changes) == 61
        assert changes[-1].type == "DELETED" and changes[-1].object["spec"] == spec(1, 0).spec
    finally:
        await store.close()
