"""Choosing a metadata store by URL, its configuration, the migration files, and backend
failures surfacing as the project's error types."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gitstore.backends.metadata.factory import open_metadata_store, split_postgres_url
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.backends.metadata.migrations import latest_version, load_migrations
from gitstore.backends.metadata.postgres import PostgresMetadataStore
from gitstore.backends.metadata.sqlite import SqliteMetadataStore, split_statements
from gitstore.config import load_settings
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, Unavailable
from tests.servers import POSTGRES_URL, require_server


def test_urls_choose_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_metadata_store("memory://"), MemoryMetadataStore)
    store = open_metadata_store(f"sqlite:///{tmp_path}/m.sqlite3")
    assert isinstance(store, SqliteMetadataStore) and store.path == tmp_path / "m.sqlite3"
    relative = open_metadata_store("sqlite://data/m.sqlite3")
    assert isinstance(relative, SqliteMetadataStore)
    assert relative.path == Path.cwd() / "data/m.sqlite3"
    absolute = open_metadata_store("sqlite:///srv/m.sqlite3")
    assert isinstance(absolute, SqliteMetadataStore) and absolute.path == Path("/srv/m.sqlite3")
    for scheme in ("postgresql", "postgres"):
        pg = open_metadata_store(f"{scheme}://u@h:5432/db?schema=gs&pool_max=3")
        assert isinstance(pg, PostgresMetadataStore) and pg.schema == "gs"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nope", "no scheme"),
        ("mysql://x", "unknown metadata store scheme"),
        ("sqlite://dir/", "must name a file"),
        ("sqlite:///", "must name a file"),
        ("postgresql://h:5432/db?schema=Bad-Name", "schema"),
        ("postgresql://h:5432/db?pool_max=0", "pool_max"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        open_metadata_store(url)


def test_postgres_url_keeps_libpq_parameters() -> None:
    url = "postgres://u:p@h:5432/db?sslmode=disable&schema=s1&application_name=gs"
    conninfo, schema, pool_max = split_postgres_url(url)
    assert conninfo == "postgresql://u:p@h:5432/db?sslmode=disable&application_name=gs"
    assert (schema, pool_max) == ("s1", 10)


def test_settings_db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITSTORE_DB__URL", raising=False)
    settings = load_settings(data_dir=str(tmp_path))
    assert settings.db_url() == f"sqlite:///{tmp_path.resolve()}/metadata.sqlite3"
    monkeypatch.setenv("GITSTORE_DB__URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert load_settings().db_url() == "postgresql://postgres@127.0.0.1:5432/test"
    default = open_metadata_store(settings.db_url())
    assert isinstance(default, SqliteMetadataStore)
    assert default.path == tmp_path.resolve() / "metadata.sqlite3"


def test_both_dialects_have_the_same_migration_versions() -> None:
    sqlite, postgres = load_migrations("sqlite"), load_migrations("postgres")
    assert [(m.version, m.name) for m in sqlite] == [(m.version, m.name) for m in postgres]
    assert latest_version() == len(sqlite) >= 1


def test_split_statements_keeps_triggers_whole() -> None:
    script = (
        "-- a comment; with a semicolon\nCREATE TABLE a (x INT);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM a;\n  SELECT 1;\nEND;\n"
    )
    statements = split_statements(script)
    assert len(statements) == 2 and statements[1].endswith("END;")


async def test_sqlite_unusable_path_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    store = SqliteMetadataStore(tmp_path / "dir.sqlite3")
    with pytest.raises(Unavailable, match=r"dir\.sqlite3"):
        await store.migrate()
    await store.close()


async def test_sqlite_refuses_a_database_from_newer_code(tmp_path: Path) -> None:
    store = SqliteMetadataStore(tmp_path / "m.sqlite3")
    await store.migrate()
    await store.close()
    with sqlite3.connect(tmp_path / "m.sqlite3") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (9999, 'future', 0)")
    conn.close()
    again = SqliteMetadataStore(tmp_path / "m.sqlite3")
    with pytest.raises(FailedPrecondition, match="newer"):
        await again.migrate()
    await again.close()


async def test_unreachable_postgres_is_unavailable() -> None:
    require_server(POSTGRES_URL, "PostgreSQL")  # the libraries are exercised for real
    store = PostgresMetadataStore("postgresql://postgres@127.0.0.1:1/test", timeout=0.5)
    with pytest.raises(Unavailable, match="PostgreSQL"):
        await store.migrate()
    await store.close()
