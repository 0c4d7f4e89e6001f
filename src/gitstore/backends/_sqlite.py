"""Opening an SQLite file the way every embedded backend does (WAL, a busy timeout).

Several connections — in one process or in ``serve``'s processes — may open the same file
at the same moment. ``PRAGMA journal_mode=WAL`` is the one statement SQLite may refuse with
"database is locked" *without* calling the busy handler (two connections switching the
journal mode at once), so it is retried here until the busy budget is spent. Every backend
opens its file through :func:`connect`, so none of them can forget this again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def connect(
    path: str | Path,
    *,
    busy_ms: int = 10_000,
    synchronous: str = "FULL",
    wal: bool = True,
) -> sqlite3.Connection:
    """A connection in autocommit mode (``isolation_level=None``), usable from any thread
    that holds the caller's lock, with ``busy_timeout`` set before anything else and the
    file switched to WAL mode (``wal=False`` for extra readers of a file already in WAL)."""
    conn = sqlite3.connect(
        path, timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        if wal:
            retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"), busy_ms)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    except BaseException:
        conn.close()
        raise
    return conn


def retry_locked(action: Callable[[], object], budget_ms: int) -> None:
    """Retry an action SQLite refuses with "database is locked" without calling the busy
    handler (switching to WAL while another connection does the same)."""
    deadline = time.monotonic() + budget_ms / 1000
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# Many rows in ONE statement. Python's sqlite3 takes the GIL back after every step of a
# statement (``executemany``: a step per row; a SELECT: a step per row fetched); with another
# thread of the process holding the GIL each step waits the switch interval (5 ms). So bulk
# writes pass their rows as one JSON array parameter, read with ``json_each``
# (``kv/sqlite_apply.py``, ``resources/_sqlite_bulk.py``).


def json_rows(rows: Sequence[Any]) -> str:
    """``rows`` as the JSON array parameter a ``json_each(?)`` reads."""
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)


def json_columns(*positions: int) -> str:
    """SQL for the given positions of a ``json_each`` row (a JSON array), comma-separated."""
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in positions)


# A statement's text and blob parameters and answers are capped by SQLite
# (``SQLITE_LIMIT_LENGTH``, 1,000,000,000 bytes by default): bulk statements cut their rows
# into parts of at most this many bytes of texts, or a quarter of the connection's limit.
BULK_BYTES = 64 * 1024 * 1024


def bulk_parts(conn: sqlite3.Connection, sizes: Sequence[int]) -> list[range]:
    """Consecutive index ranges of ``sizes`` (bytes per row) whose sums stay within the bulk
    cap (a row larger than the cap is a part of its own)."""
    cap = min(BULK_BYTES, conn.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) // 4)
    parts: list[range] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > cap:
            parts.append(range(start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        parts.append(range(start, len(sizes)))
    return parts
