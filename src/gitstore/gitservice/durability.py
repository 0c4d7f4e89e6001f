"""Getting writes onto the disk before an RPC answers.

With ``settings.git.fsync`` on, libgit2's ``ENABLE_FSYNC_GITDIR`` option makes every loose
object write ``fsync`` the temporary file, rename it into ``objects/xx/`` and ``fsync`` that
directory, and makes every ref update ``fsync`` the ``<ref>.lock`` file before renaming it
and then the ref's directory (checked with ``strace``). It is a process-wide libgit2 option,
read when a repository is opened, so it is switched on before the first open.

What libgit2 leaves out is done here:

* a new fan-out directory ``objects/xx`` is created with ``mkdir`` and not synced into
  ``objects/``. Every repository therefore gets all 256 fan-out directories (synced) when it
  is created, and ``ensure_fanout`` restores any that ``git prune`` removed, once per
  repository per process, before the first write;
* a new ref in a new directory (``refs/heads/feature/x``) and a deleted ref: the caller
  syncs those directories (``fsync_dirs``);
* repository creation: the whole new tree is synced before it is renamed into place.

Order: objects first, then the ref that makes them reachable. A crash at any point leaves
the ref at its old or its new value, and any objects it points at complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pygit2

FANOUT = tuple(f"{i:02x}" for i in range(256))


def enable_libgit2_fsync(enabled: bool) -> None:
    pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, enabled)


def configure_libgit2_cache(*, tree_object_bytes: int, total_bytes: int) -> None:
    """Let libgit2 cache large trees: a catalogue keeps 100,000 files in ``products/``, a
    multi-megabyte tree that libgit2's default (trees up to 4 KiB) would parse again on every
    path lookup and diff. Process-wide, like the fsync option."""
    pygit2.settings.cache_max_size(total_bytes)
    pygit2.settings.cache_object_limit(pygit2.enums.ObjectType.TREE, tree_object_bytes)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dirs(paths: Iterable[Path]) -> None:
    for path in paths:
        fsync_dir(path)


def fsync_tree(root: Path) -> None:
    """fsync every file and non-empty directory under ``root`` (children before parents).

    An empty directory needs no sync of its own: its parent's sync records it.
    """
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fsync_file(Path(dirpath, name))
        if dirnames or filenames:
            fsync_dir(Path(dirpath))


def ensure_fanout(objects_dir: Path, *, sync: bool) -> None:
    """Create any missing ``objects/xx`` directory and sync ``objects/`` if one was made."""
    present = set(os.listdir(objects_dir))
    missing = [name for name in FANOUT if name not in present]
    for name in missing:
        os.makedirs(objects_dir / name, exist_ok=True)
    if missing and sync:
        fsync_dir(objects_dir)
