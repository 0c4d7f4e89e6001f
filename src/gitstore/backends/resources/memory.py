"""The in-memory resource store: the reference implementation of the contract and a unit-test
double. Nothing survives the process."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from gitstore.domain.errors import Unavailable
from gitstore.domain.resources.model import Resource
from gitstore.domain.resources.rules import Key, Plan, window_floor
from gitstore.domain.resources.watch import ResourceChange

from .base import DEFAULT_RETAIN, Planner, RepoState, ResourceStore, check_retain


@dataclass(slots=True)
class _Repo:
    state: RepoState = field(default_factory=RepoState)
    resources: dict[Key, Resource] = field(default_factory=dict)
    changes: list[ResourceChange] = field(default_factory=list)


class MemoryResourceStore(ResourceStore):
    def __init__(self, *, retain: int = DEFAULT_RETAIN) -> None:
        self.retain = check_retain(retain)
        self._repos: dict[str, _Repo] = defaultdict(_Repo)
        self._lock = asyncio.Lock()
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise Unavailable("the resource store is closed")

    async def migrate(self) -> int:
        self._check()
        return 1

    async def close(self) -> None:
        self._closed = True

    async def _transact(self, repository_id: str, keys: Sequence[Key], planner: Planner) -> Plan:
        self._check()
        async with self._lock:
            repo = self._repos[repository_id]
            existing = {k: repo.resources[k] for k in keys if k in repo.resources}
            plan, commit = planner(repo.state, existing)
            for key, resource in plan.puts.items():
                repo.resources[key] = resource
            for key in plan.removes:
                repo.resources.pop(key, None)
            repo.changes.extend(plan.changes)
            floor = window_floor(repo.state.floor, plan.version, self.retain)
            repo.changes = [c for c in repo.changes if c.resource_version > floor]
            repo.state = RepoState(plan.version, floor, commit or repo.state.commit)
            return plan

    async def _state(self, repository_id: str) -> RepoState:
        self._check()
        repo = self._repos.get(repository_id)
        return repo.state if repo else RepoState()

    async def _get(self, repository_id: str, key: Key) -> Resource | None:
        self._check()
        repo = self._repos.get(repository_id)
        return repo.resources.get(key) if repo else None

    async def _list(
        self,
        repository_id: str,
        kind: str | None,
        after: Key | None = None,
        limit: int | None = None,
    ) -> tuple[list[Resource], int]:
        self._check()
        repo = self._repos.get(repository_id)
        if repo is None:
            return [], 0
        found = [
            r
            for k, r in sorted(repo.resources.items())
            if (kind is None or k[0] == kind) and (after is None or k > after)
        ]
        return found[:limit] if limit is not None else found, repo.state.version

    async def _changes(
        self, repository_id: str, after: int, limit: int
    ) -> tuple[list[ResourceChange], RepoState]:
        self._check()
        repo = self._repos.get(repository_id)
        if repo is None:
            return [], RepoState()
        found = [c for c in repo.changes if c.resource_version > after][:limit]
        return found, repo.state
