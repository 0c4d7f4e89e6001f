"""The durable outbox: no ref change is ever left unannounced.

A ref change and the publication of its event cannot be one atomic act, so every change
goes through a row in ``<repos_dir>/.outbox.sqlite3`` (WAL):

1. ``intent(event)`` inserts the complete event *before* the ref is swapped, with
   ``synchronous=FULL`` (fsynced, like the ref it precedes);
2. after the compare-and-swap succeeds, ``committed(row)`` marks it ready; if the swap
   failed, ``discard(row)`` deletes it. Both use ``synchronous=NORMAL``: they survive a
   killed process (the WAL is in the page cache) and only a power cut can undo them, which
   step 4 covers;
3. the relay publishes committed rows of its own process in id order and deletes each row
   after the queue confirmed it (``pending``/``delete``). A crash in between publishes it
   again on restart with the same ``event_id`` (at-least-once);
4. rows of a process that died are adopted by the next process that looks
   (``adopt_orphans``): committed rows are simply taken over; an intent row is decided by
   looking at the ref now - committed if the ref is at ``new`` or ``new`` is an ancestor of
   it (commits landed and others built on top), for deletions if the ref is gone; otherwise
   the swap never happened and the row is dropped.

Dead letters: a row the queue refuses for good (``PermanentError``, e.g. a body over the
queue's maximum payload even in its reference form), or one that kept failing while the
queue took other rows, is moved by the relay into ``outbox_dead`` (``bury``) with the reason,
so it no longer holds back the rows behind it. ``dead_rows`` lists them, ``revive`` moves one
back as a committed row of the calling ``Outbox`` (a ``gitstore events dead-letters replay``
process: once it exits, the running git service adopts the row like any orphan and publishes
it), ``drop_dead`` deletes it.

Ownership: each ``Outbox`` has a random ``owner`` id and holds an ``flock`` on
``.outbox-owners/<owner>.lock`` for its lifetime; the kernel releases it when the process
dies. A row belongs to a dead process exactly when its owner's lock can be taken, so several
live processes on one data dir never touch each other's in-flight rows.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gitstore.backends._sqlite import connect as sqlite_connect
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.gitservice.locks import try_flock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('intent', 'committed')),
    repository_id TEXT NOT NULL,
    ref TEXT NOT NULL,
    old TEXT NOT NULL,
    new TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_owner ON outbox (owner, state, id);
CREATE TABLE IF NOT EXISTS outbox_dead (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    repository_id TEXT NOT NULL,
    ref TEXT NOT NULL,
    old TEXT NOT NULL,
    new TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    reason TEXT NOT NULL,
    dead_at REAL NOT NULL
);
"""


class RefProbe(Protocol):
    """What recovery needs to know about a repository right now."""

    def ref_target(self, repository_id: str, ref: str) -> str | None: ...

    def contains(self, repository_id: str, tip: str, commit: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    repository_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class DeadRow:
    """An outbox row set aside by the relay (``id`` is its outbox row id)."""

    id: int
    event_id: str
    repository_id: str
    ref: str
    old: str
    new: str
    size: int
    created_at: float
    reason: str
    dead_at: float


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    return sqlite_connect(path, busy_ms=30_000, synchronous=synchronous)


class Outbox:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.owner = uuid.uuid4().hex
        self._owners = path.parent / ".outbox-owners"
        self._owners.mkdir(parents=True, exist_ok=True)
        fd = try_flock(self._owners / f"{self.owner}.lock")
        assert fd is not None, "a fresh owner id cannot be locked already"
        self._owner_fd = fd
        self._mutex = threading.Lock()
        self._durable = _connect(path, "FULL" if fsync else "NORMAL")
        self._fast = _connect(path, "NORMAL")
        self._durable.executescript(_SCHEMA)
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, callback: Callable[[], None]) -> None:
        """``callback()`` runs (in the committing thread) after each ``committed``."""
        self._listeners.append(callback)

    # ------------------------------------------------------------------ writer side

    def intent(self, event: RefUpdateEvent) -> int:
        with self._mutex:
            cursor = self._durable.execute(
                "INSERT INTO outbox (event_id, owner, state, repository_id, ref, old, new,"
                " payload, created_at) VALUES (?, ?, 'intent', ?, ?, ?, ?, ?, ?)",
                (
                    event.event_id,
                    self.owner,
                    event.repository_id,
                    event.ref,
                    event.old,
                    event.new,
                    event.to_json(),
                    time.time(),
                ),
            )
            row_id = cursor.lastrowid
        assert row_id is not None
        return row_id

    def committed(self, row_id: int) -> None:
        with self._mutex:
            self._fast.execute("UPDATE outbox SET state = 'committed' WHERE id = ?", (row_id,))
        for callback in self._listeners:
            callback()

    def discard(self, row_id: int) -> None:
        with self._mutex:
            self._fast.execute("DELETE FROM outbox WHERE id = ?", (row_id,))

    # ------------------------------------------------------------------ relay side

    def pending(self, limit: int = 100, *, skip: Collection[str] = ()) -> list[Row]:
        """Committed, unpublished rows of this process, oldest first; none of the
        repositories in ``skip`` (those waiting for a retry keep their order)."""
        marks = ",".join("?" * len(skip))
        with self._mutex:
            rows = self._fast.execute(
                "SELECT id, repository_id, payload FROM outbox"
                " WHERE owner = ? AND state = 'committed'"
                f" AND repository_id NOT IN ({marks}) ORDER BY id LIMIT ?",
                (self.owner, *skip, limit),
            ).fetchall()
        return [Row(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def delete(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        marks = ",".join("?" * len(row_ids))
        with self._mutex:
            self._fast.execute(f"DELETE FROM outbox WHERE id IN ({marks})", row_ids)

    # ------------------------------------------------------------------ dead letters

    def bury(self, row_id: int, reason: str) -> bool:
        """Move a row to ``outbox_dead``; False if it is gone already."""
        with self._mutex:
            self._durable.execute("BEGIN IMMEDIATE")
            try:
                moved = self._durable.execute(
                    "INSERT INTO outbox_dead (id, event_id, repository_id, ref, old, new, payload,"
                    " created_at, reason, dead_at) SELECT id, event_id, repository_id, ref, old,"
                    " new, payload, created_at, ?, ? FROM outbox WHERE id = ?",
                    (reason, time.time(), row_id),
                ).rowcount
                self._durable.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                self._durable.execute("COMMIT")
            except BaseException:
                self._durable.execute("ROLLBACK")
                raise
        return bool(moved)

    def dead_rows(self, limit: int = 100) -> list[DeadRow]:
        """The oldest ``limit`` dead rows (without their payloads)."""
        with self._mutex:
            rows = self._fast.execute(
                "SELECT id, event_id, repository_id, ref, old, new, length(payload), created_at,"
                " reason, dead_at FROM outbox_dead ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadRow(*r) for r in rows]

    def dead_count(self) -> int:
        with self._mutex:
            return int(self._fast.execute("SELECT COUNT(*) FROM outbox_dead").fetchone()[0])

    def revive(self, dead_id: int) -> bool:
        """Move a dead row back as a committed row of this ``Outbox``; False if unknown."""
        with self._mutex:
            self._durable.execute("BEGIN IMMEDIATE")
            try:
                moved = self._durable.execute(
                    "INSERT INTO outbox (event_id, owner, state, repository_id, ref, old, new,"
                    " payload, created_at) SELECT event_id, ?, 'committed', repository_id, ref,"
                    " old, new, payload, created_at FROM outbox_dead WHERE id = ?",
                    (self.owner, dead_id),
                ).rowcount
                self._durable.execute("DELETE FROM outbox_dead WHERE id = ?", (dead_id,))
                self._durable.execute("COMMIT")
            except BaseException:
                self._durable.execute("ROLLBACK")
                raise
        if moved:
            for callback in self._listeners:
                callback()
        return bool(moved)

    def drop_dead(self, dead_id: int) -> bool:
        with self._mutex:
            deleted = self._fast.execute("DELETE FROM outbox_dead WHERE id = ?", (dead_id,))
        return deleted.rowcount == 1

    def count(self) -> int:
        with self._mutex:
            return int(self._fast.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # ------------------------------------------------------------------ recovery

    def adopt_orphans(self, probe: RefProbe) -> int:
        """Take over the rows of dead processes; return how many became publishable."""
        with self._mutex:
            owners = [
                str(r[0])
                for r in self._fast.execute(
                    "SELECT DISTINCT owner FROM outbox WHERE owner != ?", (self.owner,)
                ).fetchall()
            ]
        adopted = 0
        for owner in owners:
            lock_path = self._owners / f"{owner}.lock"
            fd = try_flock(lock_path)
            if fd is None:
                continue  # that process is alive
            try:
                adopted += self._adopt(owner, probe)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock_path)
            finally:
                os.close(fd)
        self._sweep_owner_files()
        return adopted

    def _adopt(self, owner: str, probe: RefProbe) -> int:
        with self._mutex:
            taken = self._durable.execute(
                "UPDATE outbox SET owner = ? WHERE owner = ? AND state = 'committed'",
                (self.owner, owner),
            ).rowcount
            intents = self._fast.execute(
                "SELECT id, repository_id, ref, old, new FROM outbox"
                " WHERE owner = ? AND state = 'intent'",
                (owner,),
            ).fetchall()
        for row_id, repository_id, ref, _old, new in intents:
            now = probe.ref_target(repository_id, ref)
            if new == ZERO_SHA:
                landed = now is None
            else:
                landed = now is not None and probe.contains(repository_id, now, new)
            with self._mutex:
                if landed:
                    self._durable.execute(
                        "UPDATE outbox SET owner = ?, state = 'committed' WHERE id = ?",
                        (self.owner, row_id),
                    )
                    taken += 1
                else:
                    self._durable.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
        return int(taken)

    def _sweep_owner_files(self) -> None:
        """Remove lock files of dead processes that left no rows.

        Only files older than a minute: a process that has just created its file may not
        hold the lock on it yet.
        """
        with self._mutex:
            owners = {str(r[0]) for r in self._fast.execute("SELECT DISTINCT owner FROM outbox")}
        cutoff = time.time() - 60.0
        for entry in self._owners.glob("*.lock"):
            if entry.stem == self.owner or entry.stem in owners:
                continue
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime > cutoff:
                    continue
            fd = try_flock(entry)
            if fd is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry)
                os.close(fd)

    def close(self) -> None:
        with self._mutex:
            self._durable.close()
            self._fast.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._owners / f"{self.owner}.lock")
        os.close(self._owner_fd)
