"""Compare-and-swap of one ref, correct across processes.

``swap(repo, ref, expected, new)`` moves ``ref`` from ``expected`` to ``new`` (either may be
None: "does not exist" / "delete it") or raises ``RefMoved`` with the value it found. It is
a libgit2 reference transaction, i.e. git's own lockfile protocol:

1. ``lock_ref`` creates ``<ref>.lock`` with ``O_CREAT|O_EXCL`` - at most one process (git,
   libgit2, any gitstore process) holds it;
2. the ref is read again *under the lock* and compared with ``expected``;
3. ``set_target``/``remove`` then ``commit`` writes the lock file, fsyncs it (with the
   libgit2 fsync option on), renames it over the ref and fsyncs the directory.

So between the read in step 2 and the rename in step 3 nobody else can change the ref, and
two writers can never both succeed from the same old value (``tests/gitservice`` races two
OS processes to show it). Raising inside the transaction frees it, which removes the lock
file without touching the ref.

Creating ``a`` next to an existing ``a/b`` (or the reverse) is ``FailedPrecondition``.

A lock file that exists is retried with a short back-off until ``timeout`` (``Aborted``).
One older than ``stale_after`` seconds is left over from a killed process (libgit2 and git
hold ref locks for microseconds) and is removed with a warning.

Directories libgit2 does not sync: for a new ref, every directory from its parent's parent
up to ``refs/`` (libgit2 syncs the ref's own directory); for a deleted ref, its nearest
remaining directory (libgit2 removes directories the deletion emptied).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

import pygit2

from gitstore.domain.errors import Aborted, FailedPrecondition
from gitstore.gitservice import durability

log = logging.getLogger(__name__)


class RefMoved(Exception):
    """The ref was not at the expected value; ``current`` is what it was (None = absent)."""

    def __init__(self, ref: str, current: str | None) -> None:
        super().__init__(f"{ref} is at {current or 'nothing'}")
        self.ref = ref
        self.current = current


def current(repo: pygit2.Repository, ref: str) -> str | None:
    found = repo.references.get(ref)
    return str(found.target) if found is not None else None


def swap(
    repo: pygit2.Repository,
    ref: str,
    expected: str | None,
    new: str | None,
    *,
    fsync: bool,
    timeout: float = 10.0,
    stale_after: float = 10.0,
) -> None:
    gitdir = Path(repo.path)
    lock_path = gitdir / f"{ref}.lock"
    if expected is None and new is not None:
        _check_no_conflict(repo, ref)
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            _attempt(repo, ref, expected, new, lock_path)
            break
        except _Locked:
            _break_if_stale(lock_path, stale_after)
            if time.monotonic() >= deadline:
                raise Aborted(f"{ref} stayed locked for {timeout:.0f}s; try again") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
    if fsync:
        if new is None:  # libgit2 also removes directories the deletion emptied
            directory = lock_path.parent
            while not directory.exists():
                directory = directory.parent
            durability.fsync_dir(directory)
        elif expected is None:  # libgit2 synced the ref's own directory
            directory = lock_path.parent.parent
            while directory != gitdir:
                durability.fsync_dir(directory)
                directory = directory.parent


class _Locked(Exception):
    pass


def _attempt(
    repo: pygit2.Repository, ref: str, expected: str | None, new: str | None, lock_path: Path
) -> None:
    with repo.transaction() as txn:
        try:
            txn.lock_ref(ref)
        except pygit2.GitError as exc:
            if _is_contention(str(exc), lock_path):
                raise _Locked from exc
            raise
        found = current(repo, ref)
        if found != expected:
            raise RefMoved(ref, found)
        if new is None:
            txn.remove(ref)
        else:
            txn.set_target(ref, new)


def _is_contention(message: str, lock_path: Path) -> bool:
    """Whether a ``lock_ref`` failure means "someone else holds the lock".

    libgit2 words it "failed to create locked file ...: File exists" or "failed to lock file
    ... for writing: " depending on where it lost; other failures (permissions, a full
    disk) are real errors.
    """
    if "lock" not in message:
        return False
    return (
        "File exists" in message or message.rstrip().endswith("for writing:") or lock_path.exists()
    )


def _check_no_conflict(repo: pygit2.Repository, ref: str) -> None:
    """A new ref may not sit above or below an existing one (``a`` vs ``a/b``).

    libgit2 refuses that only for loose refs; with packed refs (after ``git pack-refs``)
    its transactions would happily create both, which git then cannot read.
    """
    parts = ref.split("/")
    for depth in range(3, len(parts)):
        above = "/".join(parts[:depth])
        if repo.references.get(above) is not None:
            raise FailedPrecondition(f"{ref} cannot be created: {above} exists", field="ref")
    below = ref + "/"
    for name in repo.references:
        if name.startswith(below):
            raise FailedPrecondition(f"{ref} cannot be created: {name} exists", field="ref")


def _break_if_stale(lock_path: Path, stale_after: float) -> None:
    with contextlib.suppress(FileNotFoundError):
        age = time.time() - lock_path.stat().st_mtime
        if age > stale_after:
            log.warning("removing stale lock %s (%.0fs old)", lock_path, age)
            os.unlink(lock_path)
