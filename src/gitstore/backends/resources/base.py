"""The resource store contract (see docs/resources.md).

Per repository: resources keyed by (kind, name) — kinds compare case-insensitively — a
resourceVersion counter, the commit whose spec changes were last applied, and a bounded log
of changes (the watch window). Every write is *read set → pure plan → write set* in one
transaction, serialised per repository:

1. lock the repository's row and read its state (:class:`RepoState`) and the stored
   resources of the keys the write touches;
2. plan with ``domain.resources.rules`` (no I/O; raises ``Conflict``/``NotFound``/
   ``InvalidArgument`` before anything is written);
3. write the plan's resources, removals and changes, the new version and commit, and drop
   the changes that fell out of the window (the last ``retain`` changes are kept).

Backends implement the transaction (``_transact``) and the reads; every rule lives in the
planning functions, so the backends cannot disagree on them. A CQL backend (ScyllaDB) fits
the same shape: the repository row's version is the compare-and-set of a lightweight
transaction (``UPDATE ... IF version = ?``) that commits a plan; see docs/resources.md.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gitstore.domain.errors import Aborted, InvalidArgument
from gitstore.domain.keys import validate_repository
from gitstore.domain.resources.model import Resource, SpecDelete, SpecUpsert, check_name, kind_key
from gitstore.domain.resources.rules import (
    Key,
    MetadataPatch,
    Plan,
    batch_keys,
    plan_apply,
    plan_metadata,
    plan_status,
)
from gitstore.domain.resources.selector import Selector
from gitstore.domain.resources.watch import Expired, ResourceChange, ResourceFeed

DEFAULT_RETAIN = 10_000
ANY_BASE = "*"  # apply_commit: whatever commit was applied before
MAX_LIMIT = 10_000
PAGE_CHUNK = 500  # select_page reads the store in chunks of at least this many


@dataclass(frozen=True, slots=True)
class RepoState:
    version: int = 0  # the newest resourceVersion (0: nothing yet)
    floor: int = 0  # the oldest resourceVersion a watch can resume from
    commit: str = ""  # the commit whose spec changes were applied last ("" none)


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    version: int  # the repository's resourceVersion after the write
    changes: int  # how many changes it made (0: nothing, e.g. a redelivery)
    commit: str


# What a transaction runs: (state, stored resources of the keys) -> (plan, commit to record).
Planner = Callable[[RepoState, dict[Key, Resource]], tuple[Plan, str | None]]


def check_retain(retain: int) -> int:
    if isinstance(retain, bool) or not isinstance(retain, int) or retain < 1:
        raise InvalidArgument(
            f"retain must be a positive number of changes (got {retain!r})", field="retain"
        )
    return retain


def check_version(value: int, what: str = "resourceVersion") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{what} must be an integer >= 0 (got {value!r})", field=what)
    return value


class ResourceStore(abc.ABC):
    """A resource store; implements ``domain.resources.watch.ResourceFeed``."""

    retain: int = DEFAULT_RETAIN

    def _now(self) -> datetime:
        return datetime.now(UTC)

    # ------------------------------------------------------------------ backend steps
    @abc.abstractmethod
    async def migrate(self) -> int:
        """Create or upgrade the storage; the schema version."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def _transact(self, repository_id: str, keys: Sequence[Key], planner: Planner) -> Plan:
        """Run ``planner`` in one transaction serialised per repository and persist its plan
        (see the module doc); the plan."""

    @abc.abstractmethod
    async def _state(self, repository_id: str) -> RepoState: ...

    @abc.abstractmethod
    async def _get(self, repository_id: str, key: Key) -> Resource | None: ...

    @abc.abstractmethod
    async def _list(
        self,
        repository_id: str,
        kind: str | None,
        after: Key | None = None,
        limit: int | None = None,
    ) -> tuple[list[Resource], int]:
        """Live resources (of a kind key, or all) ordered by (kind key, name), and the
        repository's version, read in one snapshot; only those after ``after`` (a
        (kind key, name)) and at most ``limit`` of them when given."""

    @abc.abstractmethod
    async def _changes(
        self, repository_id: str, after: int, limit: int
    ) -> tuple[list[ResourceChange], RepoState]:
        """Logged changes with resourceVersion > ``after`` (oldest first, at most ``limit``)
        and the state they were read with, in one snapshot."""

    # ------------------------------------------------------------------ writes
    async def apply_commit(
        self,
        repository_id: str,
        commit: str,
        upserts: Sequence[SpecUpsert],
        deletes: Sequence[SpecDelete],
        *,
        base: str = ANY_BASE,
    ) -> ApplyOutcome:
        """Apply the spec changes of ``commit`` in one transaction. Applying the commit that
        was applied last again changes nothing (redelivery). ``base``: the commit the changes
        were computed from ("" = none); if another commit was applied since, nothing is
        written and ``Aborted`` (field ``base``) says to compute them again."""
        validate_repository(repository_id)
        if not isinstance(commit, str) or not commit:
            raise InvalidArgument("commit must be a non-empty string", field="commit")
        keys = batch_keys(upserts, deletes)
        now = self._now()

        def planner(state: RepoState, existing: dict[Key, Resource]) -> tuple[Plan, str | None]:
            if state.commit == commit:
                return Plan(repository_id, state.version), None
            if base != ANY_BASE and state.commit != base:
                raise Aborted(
                    f"spec changes of {repository_id} computed from {base or 'nothing'!r} but "
                    f"{state.commit!r} was applied since: compute them again",
                    field="base",
                )
            plan = plan_apply(repository_id, state.version, existing, upserts, deletes, now)
            return plan, commit

        plan = await self._transact(repository_id, keys, planner)
        return ApplyOutcome(plan.version, len(plan.changes), commit)

    async def update_status(
        self,
        repository_id: str,
        kind: str,
        name: str,
        resource_version: int,
        status: dict[str, Any],
    ) -> tuple[Resource, bool]:
        """Replace the status (compare-and-set on ``resource_version``); the resource after
        the write and whether it changed. ``Conflict`` when stale, ``NotFound``."""
        validate_repository(repository_id)
        key = (kind_key(kind), check_name(name))
        check_version(resource_version)
        now = self._now()

        def planner(state: RepoState, existing: dict[Key, Resource]) -> tuple[Plan, str | None]:
            old = existing.get(key)
            args = (state.version, old, kind, name, resource_version, status, now)
            return plan_status(repository_id, *args), None

        plan = await self._transact(repository_id, [key], planner)
        assert plan.result is not None
        return plan.result, plan.changed

    async def update_metadata(
        self,
        repository_id: str,
        kind: str,
        name: str,
        resource_version: int,
        patch: MetadataPatch,
    ) -> tuple[Resource, bool]:
        """Replace finalizers / labels / annotations (compare-and-set); the resource after
        the write (its last state if removing the last finalizer deleted it) and whether it
        changed."""
        validate_repository(repository_id)
        key = (kind_key(kind), check_name(name))
        check_version(resource_version)
        now = self._now()

        def planner(state: RepoState, existing: dict[Key, Resource]) -> tuple[Plan, str | None]:
            old = existing.get(key)
            args = (state.version, old, kind, name, resource_version, patch, now)
            return plan_metadata(repository_id, *args), None

        plan = await self._transact(repository_id, [key], planner)
        assert plan.result is not None
        return plan.result, plan.changed

    # ------------------------------------------------------------------ reads
    async def get(self, repository_id: str, kind: str, name: str) -> Resource | None:
        validate_repository(repository_id)
        return await self._get(repository_id, (kind_key(kind), check_name(name)))

    async def select(
        self, repository_id: str, kind: str | None = None, selector: Selector | None = None
    ) -> tuple[list[Resource], int]:
        """Live resources (of ``kind``, matching ``selector``) and the current version."""
        validate_repository(repository_id)
        found, version = await self._list(repository_id, kind_key(kind) if kind else None)
        if selector is not None and selector.requirements:
            found = [r for r in found if selector.matches(r.labels)]
        return found, version

    async def select_page(
        self,
        repository_id: str,
        kind: str | None,
        selector: Selector | None,
        *,
        after: Key | None,
        first: int,
    ) -> tuple[list[Resource], int, bool]:
        """Up to ``first`` live resources after ``after`` (matching ``selector``), the version
        the first chunk was read at, and whether more follow (``domain.resources.paging``)."""
        validate_repository(repository_id)
        key = kind_key(kind) if kind else None
        chunk = max(first + 1, PAGE_CHUNK)
        out: list[Resource] = []
        version: int | None = None
        while True:
            found, now = await self._list(repository_id, key, after, chunk)
            version = now if version is None else version
            for resource in found:
                if selector is None or selector.matches(resource.labels):
                    out.append(resource)
                    if len(out) > first:
                        return out[:first], version, True
            if len(found) < chunk:
                return out, version, False
            after = (kind_key(found[-1].kind), found[-1].name)

    async def list_resources(
        self, repository_id: str, kind: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        found, version = await self.select(repository_id, kind)
        return [r.to_object() for r in found], version

    async def changes_since(
        self, repository_id: str, resource_version: int, *, limit: int = 1000
    ) -> list[ResourceChange]:
        validate_repository(repository_id)
        check_version(resource_version)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidArgument(f"limit must be 1..{MAX_LIMIT} (got {limit!r})", field="limit")
        changes, state = await self._changes(repository_id, resource_version, limit)
        if resource_version < state.floor:
            raise Expired(repository_id, resource_version, state.floor)
        return changes

    async def current_version(self, repository_id: str) -> int:
        validate_repository(repository_id)
        return (await self._state(repository_id)).version

    async def applied_commit(self, repository_id: str) -> str | None:
        """The commit whose spec changes were applied last (None: none yet)."""
        validate_repository(repository_id)
        return (await self._state(repository_id)).commit or None

    async def __aenter__(self) -> ResourceStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


if TYPE_CHECKING:  # mypy checks that every store is what a watch consumes

    def _is_a_feed(store: ResourceStore) -> ResourceFeed:
        return store
