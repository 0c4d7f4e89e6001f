"""Quarantined pushes, readable through the read RPCs while their pre-receive hook runs.

git receive-pack writes a push's objects into ``objects/tmp_objdir-incoming-*`` (the
quarantine, ``GIT_QUARANTINE_PATH``) and moves them into the repository only if
pre-receive allows the push. While the hook runs, the API's hook service must read those
objects (manifests of the pushed commits) through the ordinary read RPCs, so the git
service registers the quarantine under a random ``quarantine_id`` (``QuarantineRegistry``)
and unregisters it as soon as the hook has its answer: afterwards the id is ``NOT_FOUND``.

A read with a ``quarantine_id`` opens a fresh ``pygit2.Repository`` of that repository and
adds the quarantine directory as an alternate object directory
(``repo.odb.add_disk_alternate``) — never the shared, pooled handles, which must not see
objects that may yet be thrown away. ``QuarantineSource`` offers the same ``read`` /
``session`` context managers as ``RepositoryStore``, so ``reads`` needs no second code path.
The id must belong to the repository the request names (else ``NOT_FOUND`` too), and the
quarantine directory must lie inside that repository's ``objects`` directory.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitstore.domain.errors import InvalidArgument, NotFound
from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.locks import RWLock
from gitstore.gitservice.reads import ReadSource
from gitstore.gitservice.storage import RepositoryStore, Session


@dataclass(frozen=True, slots=True)
class Quarantine:
    repo_id: RepositoryId
    repo_path: Path
    objects: Path


def open_with(quarantine: Quarantine) -> pygit2.Repository:
    """A fresh handle on the repository that also sees the quarantined objects."""
    repo = pygit2.Repository(str(quarantine.repo_path))
    repo.odb.add_disk_alternate(str(quarantine.objects))
    return repo


def check_inside(repo_path: Path, directory: str) -> Path:
    """``directory`` (from the hook's environment) resolved, and inside ``objects/``."""
    objects = (repo_path / "objects").resolve()
    found = (repo_path / directory).resolve() if directory else objects
    if found != objects and not found.is_relative_to(objects):
        raise InvalidArgument(f"quarantine {directory!r} is outside the repository")
    return found


class QuarantineRegistry:
    """Thread-safe map ``quarantine_id`` -> ``Quarantine``."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._entries: dict[str, Quarantine] = {}

    def register(self, quarantine: Quarantine) -> str:
        quarantine_id = secrets.token_hex(16)
        with self._mutex:
            self._entries[quarantine_id] = quarantine
        return quarantine_id

    def unregister(self, quarantine_id: str) -> None:
        with self._mutex:
            self._entries.pop(quarantine_id, None)

    def lookup(self, quarantine_id: str, repo_id: RepositoryId) -> Quarantine:
        with self._mutex:
            found = self._entries.get(quarantine_id)
        if found is None or found.repo_id != repo_id:
            raise NotFound(
                f"quarantine {quarantine_id!r} of {repo_id} not found (pushes are only "
                "readable while their pre-receive hook runs)",
                field="quarantine_id",
            )
        return found

    def source(
        self, store: RepositoryStore, repo_id: RepositoryId, quarantine_id: str
    ) -> ReadSource:
        """The store itself (no id), or a source that also sees the quarantine."""
        if not quarantine_id:
            return store
        return QuarantineSource(self.lookup(quarantine_id, repo_id))


class QuarantineSource:
    """``read``/``session`` like ``RepositoryStore``, over a fresh handle + the quarantine."""

    def __init__(self, quarantine: Quarantine) -> None:
        self._quarantine = quarantine
        self._lock = RWLock()

    def _check(self, repo_id: RepositoryId) -> None:
        if repo_id != self._quarantine.repo_id:  # pragma: no cover - lookup checked it
            raise NotFound(f"quarantine is not one of {repo_id}", field="quarantine_id")

    @contextlib.contextmanager
    def read(self, repo_id: RepositoryId) -> Iterator[pygit2.Repository]:
        self._check(repo_id)
        yield open_with(self._quarantine)

    @contextlib.contextmanager
    def session(self, repo_id: RepositoryId) -> Iterator[Session]:
        self._check(repo_id)
        yield Session(open_with(self._quarantine), self._lock)
