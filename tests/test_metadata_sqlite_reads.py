"""The SQLite store's inline point reads (see ``backends/metadata/sqlite.py``): each thread
reads on its own ``query_only`` connection, sees every commit at once (its own store's and
other processes'), falls back to the writer thread when SQLite says "locked", and stops at
``close()``. The behaviour every store shares is in ``test_metadata_contract.py``."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from gitstore.backends.metadata.base import NamespacePatch, Tier
from gitstore.backends.metadata.sqlite import SqliteMetadataStore
from gitstore.domain.errors import Unavailable


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "metadata.sqlite3"


async def test_reads_see_every_commit_at_once(path: Path) -> None:
    writer, reader = SqliteMetadataStore(path), SqliteMetadataStore(path)
    try:
        await writer.migrate()
        assert await reader.get_namespace_by_identifier("acme") is None
        created = await writer.create_namespace(
            "acme", Tier.USER, display_name="Acme", parent_enterprise_id=None, created_by="u"
        )
        seen = await reader.get_namespace_by_identifier("acme")
        assert seen == created
        await writer.update_namespace(
            created.id, NamespacePatch(display_name="New"), updated_by="u"
        )
        again = await reader.get_namespace(created.id)
        assert again is not None and again.display_name == "New"
        # and a store reads its own writes
        assert await writer.get_namespace_by_identifier("acme") == again
    finally:
        await writer.close()
        await reader.close()


async def test_a_locked_read_is_retried_on_the_writer_thread(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteMetadataStore(path)
    try:
        await store.migrate()
        user = await store.create_user("alice", "hash", is_admin=False)

        class LockedCursor:
            def execute(self, *_args: Any) -> Any:
                raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(store._local, "cursor", LockedCursor(), raising=False)
        assert await store.get_user(user.id) == user  # answered by the writer connection
    finally:
        await store.close()


async def test_other_database_errors_are_unavailable(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteMetadataStore(path)
    try:
        await store.migrate()

        class BrokenCursor:
            def execute(self, *_args: Any) -> Any:
                raise sqlite3.DatabaseError("file is not a database")

        monkeypatch.setattr(store._local, "cursor", BrokenCursor(), raising=False)
        with pytest.raises(Unavailable, match="file is not a database"):
            await store.get_user_by_username("alice")
    finally:
        await store.close()


async def test_each_thread_reads_on_its_own_connection_until_close(path: Path) -> None:
    store = SqliteMetadataStore(path)
    await store.migrate()
    user = await store.create_user("bob", "hash", is_admin=True)
    found: list[Any] = []

    def in_another_thread() -> None:
        found.append(asyncio.run(store.get_user_by_username("bob")))

    thread = threading.Thread(target=in_another_thread)
    thread.start()
    thread.join(timeout=30)
    assert found == [user]
    assert await store.get_user_by_username("bob") == user
    readers = list(store._readers)
    assert len(readers) == 2  # this thread's and the other thread's
    await store.close()
    with pytest.raises(Unavailable, match="closed"):
        await store.get_user(user.id)
    for conn in readers:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
