"""Embedded durable queue in one SQLite file (the default backend of ``gitstore serve``).

Tables (one file may hold several streams; ids are the global ``seq``, so unique per file):

* ``queue_messages(seq, stream, key, body, published_at)`` - the append-only log;
* ``queue_groups(stream, grp, cursor)`` - per group, the highest ``seq`` handed out once;
* ``queue_dead(stream, grp, seq, key, body, delivery_count, published_at, reason, dead_at)``
  - each group's dead letters (the dead-letter id is the message's ``seq``); ``dead_letter``
  inserts the row and deletes the lease in one transaction;
* ``queue_leases(stream, grp, seq, consumer, lease_until, delivery_count)`` - delivered,
  not yet acked messages. ``ack`` deletes the row; ``nack`` sets ``lease_until = 0``; a row
  whose ``lease_until`` (wall clock, shared by processes) has passed is handed out again.
  ``extend_lease`` is one ``UPDATE ... SET lease_until = now + ack_wait`` guarded by
  ``lease_until > now``, so an expired, nacked or acked (deleted) lease is never revived.

Durability and concurrency: WAL journal, ``synchronous=FULL`` (a publish is fsynced before
it returns), ``busy_timeout`` for waiting on other writers. Claiming runs in ``BEGIN
IMMEDIATE``, which takes the database's single write lock first, so consumers in several
processes sharing the file never lease the same message at once. A cheap read-only probe
runs before each claim so idle pollers do not contend for that lock.

The blocking ``sqlite3`` calls run in a worker thread (``asyncio.to_thread``) behind a
``threading.Lock`` (one connection per queue instance). ``fetch`` polls every
``POLL_SECONDS`` until ``timeout``, and wakes early when this instance publishes or nacks.

By default nothing is deleted except by ``drop``: the log is the history (a later group
starts at the beginning). A queue opened with a ``Retention`` trims its stream after every
``max(1, max_messages // 10)`` publishes of this instance (or its first publish 1 s after the
last trim, for ``max_age``) and on a fetch when that second has passed: one transaction
deletes the messages past the newest ``max_messages`` and those older than ``max_age``, and
the leases of deleted messages (a lease whose message is gone is dropped by ``fetch``, too).
With ``group_idle_expiry``, a fetch records its group's ``touched_at`` (at most every tenth of
the expiry per instance and group) and, in the same transaction, deletes the stream's groups
(with their leases and dead letters) not touched for ``group_idle_expiry`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from gitstore.backends._sqlite import connect as sqlite_connect
from gitstore.backends.queue.base import (
    KEEP_ALL,
    DeadLetter,
    Message,
    Queue,
    Retention,
    check_ack_wait,
    check_limit,
    check_name,
    clip_reason,
)
from gitstore.backends.queue.memory import parse_id
from gitstore.domain.errors import FailedPrecondition, Unavailable

T = TypeVar("T")

POLL_SECONDS = 0.05

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    key TEXT NOT NULL,
    body BLOB NOT NULL,
    published_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_messages_by_stream ON queue_messages (stream, seq);
CREATE TABLE IF NOT EXISTS queue_groups (
    stream TEXT NOT NULL,
    grp TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    touched_at REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (stream, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_leases (
    stream TEXT NOT NULL,
    grp TEXT NOT NULL,
    seq INTEGER NOT NULL,
    consumer TEXT NOT NULL,
    lease_until REAL NOT NULL,
    delivery_count INTEGER NOT NULL,
    PRIMARY KEY (stream, grp, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_leases_due ON queue_leases (stream, grp, lease_until);
CREATE TABLE IF NOT EXISTS queue_dead (
    stream TEXT NOT NULL,
    grp TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    body BLOB NOT NULL,
    delivery_count INTEGER NOT NULL,
    published_at REAL NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL,
    PRIMARY KEY (stream, grp, seq)
) WITHOUT ROWID;
"""

_NEW_GROUP = (
    "INSERT OR IGNORE INTO queue_groups (stream, grp, cursor, touched_at) VALUES (:s, :g, 0, :now)"
)
_CURSOR = "COALESCE((SELECT cursor FROM queue_groups WHERE stream = :s AND grp = :g), 0)"


def _add_touched_at(conn: sqlite3.Connection) -> None:
    """Files made before group expiry lack ``queue_groups.touched_at``: add it, with every
    existing group counted as seen now (so none expires at once)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(queue_groups)")}
    if "touched_at" in columns:
        return
    try:
        conn.execute("ALTER TABLE queue_groups ADD COLUMN touched_at REAL NOT NULL DEFAULT 0")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):  # another process added it meanwhile
            raise
    conn.execute("UPDATE queue_groups SET touched_at = ? WHERE touched_at = 0", (time.time(),))


class SqliteQueue(Queue):
    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        stream: str,
        ack_wait: float,
        retention: Retention = KEEP_ALL,
    ) -> None:
        self.stream = stream
        self.ack_wait = ack_wait
        self.retention = retention
        self._trim_every = max(1, retention.max_messages // 10) if retention.max_messages else 0
        self._since_trim = 0
        self._trimmed_at = time.monotonic()
        self._touched: dict[str, float] = {}  # group -> monotonic time of our last touch
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self._changed = asyncio.Event()

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        stream: str = "gitstore-events",
        ack_wait: float = 30.0,
        retention: Retention = KEEP_ALL,
    ) -> SqliteQueue:
        check_name("stream", stream)
        check_ack_wait(ack_wait)

        def connect() -> sqlite3.Connection:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite_connect(path, busy_ms=30_000, synchronous="FULL")
                try:
                    conn.executescript(_SCHEMA)
                    _add_touched_at(conn)
                except BaseException:
                    conn.close()
                    raise
                return conn
            except (sqlite3.Error, OSError) as exc:
                raise Unavailable(f"cannot open SQLite queue {str(path)!r}: {exc}") from exc

        conn = await asyncio.to_thread(connect)
        return cls(conn, path, stream, ack_wait, retention)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                if self._conn is None:
                    raise FailedPrecondition(f"queue {self.stream!r} is closed")
                try:
                    return fn(self._conn)
                except BaseException as exc:
                    if self._conn.in_transaction:
                        self._conn.rollback()
                    if isinstance(exc, sqlite3.Error):
                        raise Unavailable(f"SQLite queue {str(self.path)!r}: {exc}") from exc
                    raise

        return await asyncio.to_thread(call)

    async def _publish(self, body: bytes, *, key: str) -> str:
        sql = "INSERT INTO queue_messages (stream, key, body, published_at) VALUES (?, ?, ?, ?)"
        args = (self.stream, key, bytes(body), time.time())
        self._since_trim += 1
        trim = self._trim_due()

        def insert(conn: sqlite3.Connection) -> int | None:
            seq = conn.execute(sql, args).lastrowid
            if trim:
                self._trim(conn)
            return seq

        seq = await self._run(insert)
        self._changed.set()
        return str(seq)

    def _trim_due(self) -> bool:
        """Whether this call trims (and, if so, the counters start again)."""
        if not self.retention.bounded:
            return False
        due = bool(self._trim_every and self._since_trim >= self._trim_every)
        if self.retention.max_age and time.monotonic() - self._trimmed_at >= 1.0:
            due = True
        if due:
            self._since_trim = 0
            self._trimmed_at = time.monotonic()
        return due

    def _sweep_due(self, group: str) -> bool:
        """Whether this fetch records the group's activity (and sweeps idle groups)."""
        expiry = self.retention.group_idle_expiry
        if not expiry:
            return False
        now = time.monotonic()
        if now - self._touched.get(group, -expiry) < expiry / 10:
            return False
        self._touched[group] = now
        return True

    def _touch_and_sweep(self, conn: sqlite3.Connection, group: str) -> None:
        now = time.time()
        args = {"s": self.stream, "g": group, "now": now}
        cutoff = now - self.retention.group_idle_expiry
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_NEW_GROUP, args)
        conn.execute(
            "UPDATE queue_groups SET touched_at = :now WHERE stream = :s AND grp = :g", args
        )
        stale = [
            row[0]
            for row in conn.execute(
                "SELECT grp FROM queue_groups WHERE stream = ? AND touched_at < ?",
                (self.stream, cutoff),
            )
        ]
        for table in ("queue_leases", "queue_dead", "queue_groups"):
            conn.executemany(
                f"DELETE FROM {table} WHERE stream = ? AND grp = ?",
                [(self.stream, grp) for grp in stale],
            )
        conn.execute("COMMIT")

    def _trim(self, conn: sqlite3.Connection) -> None:
        r = self.retention
        args = {"s": self.stream, "n": r.max_messages, "cutoff": 0.0, "cut": 0}
        if r.max_messages:
            row = conn.execute(
                "SELECT seq FROM queue_messages WHERE stream = :s "
                "ORDER BY seq DESC LIMIT 1 OFFSET :n",
                args,
            ).fetchone()
            args["cut"] = row[0] if row else 0
        if r.max_age:
            args["cutoff"] = time.time() - r.max_age
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "DELETE FROM queue_messages "
            "WHERE stream = :s AND (seq <= :cut OR published_at < :cutoff)",
            args,
        )
        conn.execute(
            """DELETE FROM queue_leases WHERE stream = :s AND seq < COALESCE(
                   (SELECT min(seq) FROM queue_messages WHERE stream = :s), 9223372036854775807)""",
            args,
        )
        conn.execute("COMMIT")

    def _has_work(self, conn: sqlite3.Connection, group: str) -> bool:
        args = {"s": self.stream, "g": group, "now": time.time()}
        row = conn.execute(
            f"""SELECT EXISTS (SELECT 1 FROM queue_messages WHERE stream = :s AND seq > {_CURSOR})
                OR EXISTS (SELECT 1 FROM queue_leases
                           WHERE stream = :s AND grp = :g AND lease_until <= :now)""",
            args,
        ).fetchone()
        return bool(row[0])

    def _claim(
        self, conn: sqlite3.Connection, group: str, consumer: str, limit: int, trim: bool
    ) -> list[Message]:
        if trim:
            self._trim(conn)
        if not self._has_work(conn, group):
            return []
        conn.execute("BEGIN IMMEDIATE")
        now = time.time()
        args = {
            "s": self.stream,
            "g": group,
            "c": consumer,
            "now": now,
            "until": now + self.ack_wait,
        }
        conn.execute(_NEW_GROUP, args)
        due = conn.execute(
            """SELECT seq FROM queue_leases WHERE stream = :s AND grp = :g AND lease_until <= :now
               ORDER BY seq LIMIT :n""",
            {**args, "n": limit},
        ).fetchall()
        seqs = [row[0] for row in due]
        conn.executemany(
            """UPDATE queue_leases SET consumer = :c, lease_until = :until,
               delivery_count = delivery_count + 1 WHERE stream = :s AND grp = :g AND seq = :q""",
            [{**args, "q": q} for q in seqs],
        )
        if len(seqs) < limit:
            fresh = conn.execute(
                f"SELECT seq FROM queue_messages WHERE stream = :s AND seq > {_CURSOR} "
                "ORDER BY seq LIMIT :n",
                {**args, "n": limit - len(seqs)},
            ).fetchall()
            new = [row[0] for row in fresh]
            conn.executemany(
                "INSERT INTO queue_leases VALUES (:s, :g, :q, :c, :until, 1)",
                [{**args, "q": q} for q in new],
            )
            if new:
                conn.execute(
                    "UPDATE queue_groups SET cursor = :q WHERE stream = :s AND grp = :g",
                    {**args, "q": new[-1]},
                )
            seqs += new
        if not seqs:
            conn.execute("COMMIT")
            return []
        marks = ",".join("?" * len(seqs))
        rows = conn.execute(
            f"""SELECT m.seq, m.body, m.key, l.delivery_count, m.published_at
                FROM queue_messages m JOIN queue_leases l
                  ON l.stream = m.stream AND l.seq = m.seq AND l.grp = ?
                WHERE m.seq IN ({marks}) ORDER BY m.seq""",
            [group, *seqs],
        ).fetchall()
        by_seq = {r[0]: Message(str(r[0]), r[1], r[2], r[3], r[4]) for r in rows}
        gone = [q for q in seqs if q not in by_seq]  # trimmed by another instance meanwhile
        conn.executemany(
            "DELETE FROM queue_leases WHERE stream = :s AND grp = :g AND seq = :q",
            [{**args, "q": q} for q in gone],
        )
        conn.execute("COMMIT")
        return [by_seq[q] for q in seqs if q in by_seq]

    async def _fetch(
        self, group: str, consumer: str, *, max_messages: int, timeout: float
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            trim = bool(self.retention.max_age) and self._trim_due()
            sweep = self._sweep_due(group)

            def claim(
                conn: sqlite3.Connection, trim: bool = trim, sweep: bool = sweep
            ) -> list[Message]:
                if sweep:
                    self._touch_and_sweep(conn, group)
                return self._claim(conn, group, consumer, max_messages, trim)

            got = await self._run(claim)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(POLL_SECONDS, remaining))

    async def ack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        args = (self.stream, group, parse_id(message_id))
        sql = "DELETE FROM queue_leases WHERE stream = ? AND grp = ? AND seq = ?"
        await self._run(lambda c: c.execute(sql, args))

    async def nack(self, group: str, message_id: str) -> None:
        check_name("group", group)
        args = (self.stream, group, parse_id(message_id))
        sql = "UPDATE queue_leases SET lease_until = 0 WHERE stream = ? AND grp = ? AND seq = ?"
        await self._run(lambda c: c.execute(sql, args))
        self._changed.set()

    async def extend_lease(self, group: str, message_id: str) -> bool:
        check_name("group", group)
        seq = parse_id(message_id)
        sql = """UPDATE queue_leases SET lease_until = :until
                 WHERE stream = :s AND grp = :g AND seq = :q AND lease_until > :now"""

        def extend(conn: sqlite3.Connection) -> bool:
            now = time.time()
            args = {
                "s": self.stream,
                "g": group,
                "q": seq,
                "now": now,
                "until": now + self.ack_wait,
            }
            return conn.execute(sql, args).rowcount == 1

        return await self._run(extend)

    async def dead_letter(self, group: str, message: Message, reason: str) -> None:
        check_name("group", group)
        seq = parse_id(message.id)
        row = (
            self.stream,
            group,
            seq,
            message.key,
            message.body,
            message.delivery_count,
            message.published_at,
            clip_reason(reason),
            time.time(),
        )

        marks = ",".join("?" * len(row))

        def move(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"INSERT OR REPLACE INTO queue_dead VALUES ({marks})", row)
            conn.execute(
                "DELETE FROM queue_leases WHERE stream = ? AND grp = ? AND seq = ?",
                (self.stream, group, seq),
            )
            conn.execute("COMMIT")

        await self._run(move)

    async def dead_letters(self, group: str, *, limit: int = 100) -> list[DeadLetter]:
        check_name("group", group)
        check_limit(limit)
        sql = """SELECT seq, key, body, delivery_count, published_at, reason, dead_at
                 FROM queue_dead WHERE stream = ? AND grp = ? ORDER BY seq LIMIT ?"""
        rows = await self._run(lambda c: c.execute(sql, (self.stream, group, limit)).fetchall())
        return [
            DeadLetter(str(r[0]), str(r[0]), bytes(r[2]), r[1], r[3], r[4], r[5], r[6])
            for r in rows
        ]

    async def dead_letter_count(self, group: str) -> int:
        check_name("group", group)
        sql = "SELECT count(*) FROM queue_dead WHERE stream = ? AND grp = ?"
        row = await self._run(lambda c: c.execute(sql, (self.stream, group)).fetchone())
        return int(row[0])

    async def replay_dead_letter(self, group: str, dead_id: str) -> str | None:
        check_name("group", group)
        args = (self.stream, group, parse_id(dead_id))

        def replay(conn: sqlite3.Connection) -> str | None:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT key, body FROM queue_dead WHERE stream = ? AND grp = ? AND seq = ?", args
            ).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None
            cur = conn.execute(
                "INSERT INTO queue_messages (stream, key, body, published_at) VALUES (?, ?, ?, ?)",
                (self.stream, row[0], row[1], time.time()),
            )
            conn.execute("DELETE FROM queue_dead WHERE stream = ? AND grp = ? AND seq = ?", args)
            conn.execute("COMMIT")
            return str(cur.lastrowid)

        new_id = await self._run(replay)
        self._changed.set()
        return new_id

    async def drop_dead_letter(self, group: str, dead_id: str) -> bool:
        check_name("group", group)
        args = (self.stream, group, parse_id(dead_id))
        sql = "DELETE FROM queue_dead WHERE stream = ? AND grp = ? AND seq = ?"
        return bool(await self._run(lambda c: c.execute(sql, args).rowcount == 1))

    async def pending(self, group: str) -> int:
        check_name("group", group)
        args = {"s": self.stream, "g": group, "now": time.time()}

        def count(conn: sqlite3.Connection) -> int:
            conn.execute(_NEW_GROUP, args)
            row = conn.execute(
                f"""SELECT
                    (SELECT count(*) FROM queue_messages WHERE stream = :s AND seq > {_CURSOR})
                    + (SELECT count(*) FROM queue_leases WHERE stream = :s AND grp = :g)""",
                args,
            ).fetchone()
            return int(row[0])

        return await self._run(count)

    async def drop(self) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            for table in ("queue_dead", "queue_leases", "queue_groups", "queue_messages"):
                conn.execute(f"DELETE FROM {table} WHERE stream = ?", (self.stream,))
            conn.execute("COMMIT")

        await self._run(delete)

    async def close(self) -> None:
        def shut() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(shut)
