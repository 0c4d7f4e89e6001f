"""Opening an SQLite file the way every embedded backend does (WAL, a busy timeout).

Several connections — in one process or in ``serve``'s processes — may open the same file
at the same moment. ``PRAGMA journal_mode=WAL`` is the one statement SQLite may refuse with
"database is locked" *without* calling the busy handler (two connections switching the
journal mode at once), so it is retried here until the busy budget is spent. Every backend
opens its file through :func:`connect`, so none of them can forget this again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path


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
