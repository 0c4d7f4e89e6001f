"""Every embedded backend opens its SQLite file through ``backends._sqlite.connect``: many
connections switching a fresh file to WAL at the same moment must all succeed (SQLite may
answer "database is locked" there without calling the busy handler)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from gitstore.backends._sqlite import connect


def _open_together(path: Path, count: int) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    conns: list[sqlite3.Connection] = []

    def run() -> None:
        barrier.wait()
        try:
            conns.append(connect(path))
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    return errors


def test_concurrent_opens_of_a_fresh_file_all_succeed_in_wal(tmp_path: Path) -> None:
    for round_ in range(30):
        path = tmp_path / f"r{round_}.sqlite3"
        assert _open_together(path, 8) == []
        conn = connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        conn.close()


def test_synchronous_and_busy_budget_are_applied(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.sqlite3", busy_ms=1234, synchronous="NORMAL")
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 1234
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    conn.close()
