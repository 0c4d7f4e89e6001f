"""Locks around one repository: a reader/writer lock per process, a file lock across processes.

``RWLock`` (threads of one process): any number of readers, or one writer. It prefers
writers: once a writer waits, new readers queue behind it, so a steady stream of reads
(streaming RPCs re-take the read lock per batch) cannot starve commits. Reads of Git
objects need no lock for consistency (objects are immutable, refs are replaced atomically);
the read lock keeps a repository from being deleted or re-created under a running read.

``FileLock`` (processes sharing one data dir): an ``flock`` on a file inside the repository.
Writers of every gitstore process take it after the ``RWLock``, so commits to one repository
are serialised machine-wide and rarely do work that a compare-and-swap then throws away.
The kernel drops an ``flock`` when its process dies, so a killed process never leaves it
behind. It is an optimisation and a fairness device, not the correctness guarantee: the ref
update itself is a compare-and-swap under git's own ``<ref>.lock`` protocol (see ``cas``),
which also covers writers that ignore this lock (the git command line).

Both locks give up after a timeout with ``Aborted`` (retryable), never block forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from gitstore.domain.errors import Aborted

DEFAULT_TIMEOUT = 60.0


class RWLock:
    """Writer-preferring reader/writer lock for threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextlib.contextmanager
    def read(self, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._writer or self._waiting_writers:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    raise Aborted("timed out waiting for a repository read lock")
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        with self._cond:
            self._waiting_writers += 1
            try:
                while self._writer or self._readers:
                    if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                        raise Aborted("timed out waiting for a repository write lock")
            finally:
                self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class FileLock:
    """An exclusive ``flock`` on ``path``, polled until a deadline.

    One instance per (process, file). Callers serialise use inside the process (the
    ``RWLock`` writer side does), because ``flock`` is per open file: a second thread using
    the same descriptor would not be excluded.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def hold(self, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            deadline = time.monotonic() + timeout
            delay = 0.0005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Aborted(
                            "timed out waiting for another process writing this repository"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.01)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def try_flock(path: Path) -> int | None:
    """Open ``path`` and take an exclusive ``flock`` without waiting.

    Returns the descriptor (the lock lives until it is closed), or None when another open
    file holds the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
