"""Where repositories live on disk, and safe access to them from many threads.

Layout: ``<repos_dir>/<namespace>/<name>.git`` (bare). Both halves of a ``RepositoryId`` are
DNS labels, so a path built from one cannot escape; the resolved path is still checked to be
inside the resolved ``repos_dir`` (a symlinked namespace directory pointing elsewhere is
refused). ``.tmp/`` and ``.trash/`` beside the namespaces hold repositories being created or
deleted: a repository appears by one ``rename`` of a complete, synced directory, and
disappears by one ``rename`` into the trash before it is removed, so no reader ever sees a
half-made or half-deleted repository. On start the trash is emptied and ``.tmp`` entries older than
an hour (a crashed create; a younger one may belong to another process) are removed.

Threads: libgit2 objects must not be used by two threads at once, so each operation borrows
a ``pygit2.Repository`` from a small per-repository pool and gives it back afterwards
(opening one costs a few hundred microseconds; the pool keeps at most ``max_idle`` idle
handles overall, least recently used dropped first). A handle is only reused while the
repository directory is the same inode, so a deleted and re-created repository is never
read through a stale handle.

Locks (see ``locks``): ``read`` holds the repository's read lock for a block; ``session``
gives a handle plus the lock for streams that re-take it per batch; ``write`` holds the
write lock and the cross-process file lock, and makes sure the fan-out directories exist.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitstore.domain.errors import AlreadyExists, InvalidArgument, NotFound
from gitstore.domain.identity import RepositoryId, dns_label_problem, validate_dns_label
from gitstore.gitservice import durability, names
from gitstore.gitservice.locks import FileLock, RWLock

log = logging.getLogger(__name__)

WRITE_LOCK_FILE = "gitstore-write.lock"
DEFAULT_DESCRIPTION = "Unnamed repository; edit this file 'description' to name the repository."
MAX_DESCRIPTION = 1024
_LEFTOVER_AGE = 3600.0


@dataclass(frozen=True, slots=True)
class RepositoryInfo:
    repository_id: str
    default_branch: str
    description: str


@dataclass(slots=True)
class _State:
    path: Path
    lock: RWLock = field(default_factory=RWLock)
    idle: list[pygit2.Repository] = field(default_factory=list)
    inode: int = -1
    fanout_ok: bool = False


@dataclass(slots=True)
class Session:
    """A borrowed handle and the repository's lock, for reads that stream."""

    repo: pygit2.Repository
    lock: RWLock


class RepositoryStore:
    def __init__(self, root: Path, *, fsync: bool = True, max_idle: int = 64) -> None:
        durability.enable_libgit2_fsync(fsync)
        self.fsync = fsync
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self._max_idle = max_idle
        self._mutex = threading.Lock()
        self._states: dict[RepositoryId, _State] = {}
        self._idle_order: OrderedDict[RepositoryId, None] = OrderedDict()
        self._idle_count = 0
        for special, age in ((".tmp", _LEFTOVER_AGE), (".trash", 0.0)):
            (self.root / special).mkdir(exist_ok=True)
            self._clean_leftovers(self.root / special, age)

    # ------------------------------------------------------------------ paths

    def locate(self, repo_id: RepositoryId) -> Path:
        """``<root>/<namespace>/<name>.git``, checked (once per process) to stay inside."""
        return self._state(repo_id).path

    def _state(self, repo_id: RepositoryId) -> _State:
        with self._mutex:
            state = self._states.get(repo_id)
        if state is not None:
            return state
        path = self.root / repo_id.namespace / f"{repo_id.name}.git"
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root) or resolved.parent.parent != self.root:
            raise InvalidArgument(f"repository {repo_id} resolves outside the data dir")
        with self._mutex:
            return self._states.setdefault(repo_id, _State(path))

    def _check_exists(self, repo_id: RepositoryId, path: Path, state: _State) -> None:
        try:
            inode = os.stat(path).st_ino
        except FileNotFoundError:
            raise NotFound(f"repository {repo_id} not found", field="repository_id") from None
        if inode != state.inode:
            with self._mutex:
                self._drop_idle(repo_id, state)
                state.inode = inode
                state.fanout_ok = False

    # ------------------------------------------------------------------ handles

    def _borrow(self, repo_id: RepositoryId, path: Path, state: _State) -> pygit2.Repository:
        with self._mutex:
            if state.idle:
                self._idle_count -= 1
                if len(state.idle) == 1:
                    self._idle_order.pop(repo_id, None)
                return state.idle.pop()
        return pygit2.Repository(str(path))

    def _give_back(
        self, repo_id: RepositoryId, state: _State, repo: pygit2.Repository, inode: int
    ) -> None:
        with self._mutex:
            if state.inode != inode:
                return
            state.idle.append(repo)
            self._idle_count += 1
            self._idle_order[repo_id] = None
            self._idle_order.move_to_end(repo_id)
            while self._idle_count > self._max_idle and self._idle_order:
                oldest, _ = self._idle_order.popitem(last=False)
                self._drop_idle(oldest, self._states[oldest])

    def _drop_idle(self, repo_id: RepositoryId, state: _State) -> None:
        """Forget idle handles (caller holds ``_mutex``)."""
        self._idle_count -= len(state.idle)
        state.idle.clear()
        self._idle_order.pop(repo_id, None)

    @contextlib.contextmanager
    def _handle(
        self, repo_id: RepositoryId, path: Path, state: _State
    ) -> Iterator[pygit2.Repository]:
        self._check_exists(repo_id, path, state)
        inode = state.inode
        repo = self._borrow(repo_id, path, state)
        try:
            yield repo
        finally:
            self._give_back(repo_id, state, repo, inode)

    def drop_idle_handles(self, repo_id: RepositoryId) -> None:
        """Close the idle handles of a repository (after a repack: they may hold deleted
        packs open, which keeps their disk space; new handles see the new packs)."""
        with self._mutex:
            state = self._states.get(repo_id)
            if state is not None:
                self._drop_idle(repo_id, state)

    # ------------------------------------------------------------------ access

    @contextlib.contextmanager
    def read(self, repo_id: RepositoryId) -> Iterator[pygit2.Repository]:
        """A handle under the repository's read lock, for the whole block."""
        state = self._state(repo_id)
        path = state.path
        with state.lock.read(), self._handle(repo_id, path, state) as repo:
            yield repo

    @contextlib.contextmanager
    def session(self, repo_id: RepositoryId) -> Iterator[Session]:
        """A handle for a streaming read; take ``session.lock.read()`` around each batch."""
        state = self._state(repo_id)
        path = state.path
        with state.lock.read():
            self._check_exists(repo_id, path, state)
        with self._handle(repo_id, path, state) as repo:
            yield Session(repo, state.lock)

    @contextlib.contextmanager
    def write(self, repo_id: RepositoryId) -> Iterator[pygit2.Repository]:
        """A handle under the write lock of this process and the file lock of all processes."""
        state = self._state(repo_id)
        path = state.path
        with state.lock.write():
            self._check_exists(repo_id, path, state)
            with FileLock(path / WRITE_LOCK_FILE).hold():
                self._check_exists(repo_id, path, state)  # deleted while we waited?
                if not state.fanout_ok:
                    durability.ensure_fanout(path / "objects", sync=self.fsync)
                    state.fanout_ok = True
                with self._handle(repo_id, path, state) as repo:
                    yield repo

    # ------------------------------------------------------------------ lifecycle

    def create(
        self, repo_id: RepositoryId, default_branch: str, description: str
    ) -> RepositoryInfo:
        branch = names.branch_ref(default_branch or "main")
        if len(description) > MAX_DESCRIPTION or "\x00" in description:
            raise InvalidArgument(
                f"description must be at most {MAX_DESCRIPTION} characters without NUL bytes",
                field="description",
            )
        state = self._state(repo_id)
        path = state.path
        with state.lock.write():
            if path.exists():
                raise AlreadyExists(f"repository {repo_id} already exists", field="repository_id")
            tmp = self.root / ".tmp" / f"{uuid.uuid4().hex}.git"
            try:
                self._build(tmp, branch, description)
                self._move_into_place(repo_id, tmp, path)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return RepositoryInfo(str(repo_id), branch[len(names.HEADS) :], description)

    def _build(self, tmp: Path, branch: str, description: str) -> None:
        repo = pygit2.init_repository(str(tmp), bare=True, initial_head=branch)
        config = repo.config
        config["core.logAllRefUpdates"] = False
        if self.fsync:  # for git itself (receive-pack), libgit2 has its own switch
            config["core.fsync"] = "objects,reference"
        (tmp / "description").write_text(description + "\n" if description else "")
        for name in durability.FANOUT:
            (tmp / "objects" / name).mkdir(exist_ok=True)
        (tmp / WRITE_LOCK_FILE).touch()
        del config, repo
        if self.fsync:
            durability.fsync_tree(tmp)

    def _move_into_place(self, repo_id: RepositoryId, tmp: Path, path: Path) -> None:
        for _attempt in range(3):
            namespace_dir = path.parent
            created = not namespace_dir.exists()
            namespace_dir.mkdir(exist_ok=True)
            if created and self.fsync:
                durability.fsync_dir(self.root)
            try:
                os.rename(tmp, path)
            except FileNotFoundError:
                continue  # the namespace dir was removed by a concurrent delete; retry
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise AlreadyExists(
                        f"repository {repo_id} already exists", field="repository_id"
                    ) from None
                raise
            if self.fsync:
                durability.fsync_dir(namespace_dir)
            return
        raise OSError(f"could not create the namespace directory for {repo_id}")

    def delete(
        self, repo_id: RepositoryId, prepare: Callable[[pygit2.Repository], None] | None = None
    ) -> None:
        """Remove a repository; ``prepare(repo)`` runs under its locks just before it goes
        (the caller records the refs that disappear with it). Returns once the removal is
        durable; the trash is emptied afterwards."""
        state = self._state(repo_id)
        path = state.path
        with state.lock.write():
            self._check_exists(repo_id, path, state)
            trash = self.root / ".trash" / uuid.uuid4().hex
            with FileLock(path / WRITE_LOCK_FILE).hold():
                if prepare is not None:
                    with self._handle(repo_id, path, state) as repo:
                        prepare(repo)
                try:
                    os.rename(path, trash)
                except FileNotFoundError:
                    raise NotFound(f"repository {repo_id} not found") from None
                if self.fsync:
                    durability.fsync_dir(path.parent)
            with self._mutex:
                self._drop_idle(repo_id, state)
                state.inode = -1
            shutil.rmtree(trash, ignore_errors=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only succeeds when the namespace is now empty

    def info(self, repo_id: RepositoryId) -> RepositoryInfo:
        path = self.locate(repo_id)
        try:
            head = (path / "HEAD").read_text().strip()
        except FileNotFoundError:
            raise NotFound(f"repository {repo_id} not found", field="repository_id") from None
        target = head[len("ref: ") :] if head.startswith("ref: ") else ""
        branch = target[len(names.HEADS) :] if target.startswith(names.HEADS) else ""
        try:
            description = (path / "description").read_text().strip()
        except FileNotFoundError:
            description = ""
        if description == DEFAULT_DESCRIPTION:
            description = ""
        return RepositoryInfo(str(repo_id), branch, description)

    def list(self, namespace: str = "") -> list[RepositoryInfo]:
        if namespace:
            validate_dns_label(namespace, "namespace")
            namespaces = [namespace]
        else:
            namespaces = sorted(n for n in os.listdir(self.root) if dns_label_problem(n) is None)
        found: list[RepositoryInfo] = []
        for ns in namespaces:
            try:
                entries = sorted(os.listdir(self.root / ns))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                name = entry[: -len(".git")]
                if not entry.endswith(".git") or dns_label_problem(name) is not None:
                    continue
                with contextlib.suppress(NotFound):
                    found.append(self.info(RepositoryId(ns, name)))
        return found

    # ------------------------------------------------------------------ helpers

    def ref_target(self, repo_id: RepositoryId, ref: str) -> str | None:
        """The id a ref points at now, or None (no such ref or repository)."""
        try:
            with self.read(repo_id) as repo:
                found = repo.references.get(ref)
                return str(found.target) if found is not None else None
        except NotFound:
            return None

    def contains(self, repo_id: RepositoryId, tip: str, commit: str) -> bool:
        """Whether ``commit`` is ``tip`` or one of its ancestors."""
        if tip == commit:
            return True
        try:
            with self.read(repo_id) as repo:
                return bool(repo.descendant_of(tip, commit))
        except (NotFound, KeyError, ValueError, pygit2.GitError):
            return False

    @staticmethod
    def _clean_leftovers(directory: Path, age: float) -> None:
        """Remove entries older than ``age`` seconds (another process may own newer ones)."""
        cutoff = time.time() - age
        for entry in directory.iterdir():
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    log.info("removing leftover %s", entry)
                    shutil.rmtree(entry, ignore_errors=True)
