"""An in-memory ``ResourceFeed``: the reference of the contract, for tests and benchmarks.

Not a resource store (nothing is durable, there is no status or finalizer logic): ``put`` and
``delete`` record a change with the repository's next resourceVersion, and the last
``retain`` changes per repository answer ``changes_since``; an older version is ``Expired``.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

from gitstore.domain.resources.watch import ChangeType, Expired, ResourceChange


class _Repository:
    def __init__(self, retain: int) -> None:
        self.version = 0
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.changes: deque[ResourceChange] = deque(maxlen=retain)
        self.dropped = 0  # the version of the last change no longer retained


class MemoryResourceFeed:
    def __init__(self, retain: int = 100_000) -> None:
        self.retain = retain
        self._repos: dict[str, _Repository] = {}

    def _repo(self, repository_id: str) -> _Repository:
        repo = self._repos.get(repository_id)
        if repo is None:
            repo = self._repos[repository_id] = _Repository(self.retain)
        return repo

    def put(
        self,
        repository_id: str,
        kind: str,
        name: str,
        spec: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
    ) -> ResourceChange:
        repo = self._repo(repository_id)
        previous = repo.objects.get((kind, name))
        change: ChangeType = "ADDED" if previous is None else "MODIFIED"
        version = repo.version + 1
        metadata: dict[str, Any] = {
            "uid": f"{repository_id}/{kind}/{name}",
            "name": name,
            "labels": dict(labels or {}),
            "annotations": {},
            "resourceVersion": str(version),
            "generation": (previous["metadata"]["generation"] + 1) if previous else 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "deletionTimestamp": None,
            "finalizers": [],
        }
        obj = {
            "apiVersion": "gitstore.dev/v1",
            "kind": kind,
            "metadata": metadata,
            "spec": copy.deepcopy(spec or {}),
            "status": {},
        }
        repo.objects[(kind, name)] = obj
        before = previous["metadata"]["labels"] if previous else None
        moved = dict(before) if before is not None and before != metadata["labels"] else None
        return self._record(repo, repository_id, version, change, kind, name, obj, moved)

    def delete(self, repository_id: str, kind: str, name: str) -> ResourceChange:
        repo = self._repo(repository_id)
        obj = repo.objects.pop((kind, name))
        version = repo.version + 1
        last = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(version)}}
        return self._record(repo, repository_id, version, "DELETED", kind, name, last)

    def _record(
        self,
        repo: _Repository,
        repository_id: str,
        version: int,
        change_type: ChangeType,
        kind: str,
        name: str,
        obj: dict[str, Any],
        previous_labels: dict[str, str] | None = None,
    ) -> ResourceChange:
        if len(repo.changes) == repo.changes.maxlen:
            repo.dropped = repo.changes[0].resource_version
        repo.version = version
        change = ResourceChange(
            repository_id, version, change_type, kind, name, obj, previous_labels
        )
        repo.changes.append(change)
        return change

    async def list_resources(
        self, repository_id: str, kind: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        repo = self._repo(repository_id)
        objects = [o for (k, _), o in sorted(repo.objects.items()) if kind is None or k == kind]
        return objects, repo.version

    async def changes_since(
        self, repository_id: str, resource_version: int, *, limit: int = 1000
    ) -> list[ResourceChange]:
        repo = self._repo(repository_id)
        if resource_version < repo.dropped:
            raise Expired(repository_id, resource_version, repo.dropped)
        out: list[ResourceChange] = []
        for change in repo.changes:
            if change.resource_version > resource_version:
                out.append(change)
                if len(out) >= limit:
                    break
        return out

    async def current_version(self, repository_id: str) -> int:
        return self._repo(repository_id).version
