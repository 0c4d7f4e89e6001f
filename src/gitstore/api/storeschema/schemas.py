"""``StoreSchemas``: the schema each store endpoint serves, shared, refreshed, published safely.

**What a repository serves.** The schema of ``/<namespace>/<repo>/graphql`` is built from the
kinds of the repository's default-branch head (``git.kinds.KindsLoader``): ``catalog`` (the
built-ins, no ``repository`` argument), ``commitStatus``, ``schemaStatus``, the catalogue
mutations, releases and ``auditLog`` of the global schema with the repository implied
(``bound``), one root field per API group of its custom kinds (``groups``), and typed
``upsert<Kind>``/``delete<Kind>`` for every kind (``mutations``), and the control plane of
its resource store — ``resource``/``resources``, ``update<Kind>Status``, ``watch<Plural>`` and
``watchResources`` for every kind (``control``). Identity and namespaces stay on the global
``/graphql``.

**Sharing.** Schemas are cached by the *fingerprint* of the kinds they serve — a SHA-256 of
the custom definitions (their hub schemas, names, group, versions; not the file they came
from), sorted by kind — in a bounded LRU (``capacity`` schemas). Repositories with only the
built-ins all get the one ``builtin`` schema object; repositories with the same custom kinds
share theirs. The per-repository state is a bounded LRU too (``repositories``). Memory is
bounded by ``capacity`` schemas, not by the number of repositories: a schema is "used" when a
request is served with it, and evicting it also forgets the repositories that serve it (they
work their schema out again at their next request).

**Refresh: events this process sees, a short TTL for the rest.** Two events refresh a
repository at once and wait (at most ``settle_timeout``) for the swap, so the next request is
served the new kinds: the post-receive hook of a push that moved the default branch, and an
API write that changed ``kinds/`` on it (``CatalogWriter.on_commit`` → :meth:`committed`);
both call :meth:`settle`. Ref updates this process does not see (another API replica, a
commit made straight through the git service) are caught by the TTL: a repository's head is
re-checked when a request arrives and its state is older than ``ttl`` seconds — the request
is answered at once on the schema in force, and one background task per repository
(single-flight) resolves ``refs/heads/<default>`` and the id of its ``kinds/`` tree (one
``ResolveRevision``, one top-level ``ListTree``). An unchanged tree id costs nothing more; a
changed one loads the registry (cached by tree id in ``KindsLoader``), fingerprints it and
takes the cached schema or builds a candidate. Only the first request of a repository waits
for that work; idle repositories cost nothing. (The queue's ref-update events would need a
consumer group per API replica on every queue backend: not done, docs/api.md.)

**Safe publish.** A candidate is built from fresh module objects on a fork of the platform's
shared part (``platform``: built once per process, the same type objects in every store
schema; a fork's own types are never seen by another), validated with
``validate_schema`` and only then swapped in, by replacing the repository's immutable
:class:`RepositorySchema` (one reference assignment): a request holds the snapshot it started
with to the end. A candidate that fails keeps the last known-good schema and records a
:class:`Failure` (``schemaStatus.lastFailure``); a repository with no schema yet whose first
build fails serves the built-in schema, so its catalogue keeps working. A kind that cannot be
typed does not fail the candidate: it is served as JSON (``groups``).

**Document cache.** Store schemas have their own ``DocumentCache``; every built schema gets a
fresh version number from one counter, so cached documents and plans are keyed by schema.

**Off the loop.** A candidate is built in a worker thread (``asyncio.to_thread``): tens of
milliseconds of CPU that would otherwise stall every request of the process. Before a new
schema replaces a repository's, the documents its clients used most recently with the old one
(up to ``warm_documents``) are prepared for the new one in a thread too (``_warm``: the old
parse reused, validation skipped where the document only reaches shared types,
``graphql.execution.carry``), so the requests right after a swap find them cached instead of each
parsing, validating and planning on the event loop (``bench/bench_schema_swap.py``
measures storefront latency during swaps).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, validate_schema
from starlette.requests import Request

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.domain.content import KindRegistry
from gitstore.domain.content.kindset import KINDS_DIRECTORY, builtin_registry
from gitstore.domain.errors import NotFound
from gitstore.git.kinds import EMPTY
from gitstore.switching import short_switches

from ..catalog.access import readable_repository
from ..catalog.types.generate import TypeProblem
from ..catalog.writes.result import WriteResult
from ..federation import FederationModule
from ..graphql.builder import SchemaModule
from ..graphql.catalog_mutations import REGISTRY_EXTENSION
from ..graphql.execution.documents import DocumentCache, DocumentError
from ..graphql.holder import SchemaSnapshot
from ..graphql.source import SchemaChoice
from ..identity.principal import Principal
from .bound import RepositoryBound
from .control import CustomControlModule, control_modules
from .groups import CustomKindsModule
from .mutations import StoreMutationsModule
from .platform import platform

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger(__name__)

BUILTIN = "builtin"  # the fingerprint of a registry with no custom kinds
DEFAULT_TTL = 1.0
DEFAULT_WARM = 32  # documents prepared for a new schema before it is swapped in
DEFAULT_SETTLE = 5.0  # seconds a push or an API write waits at most for its schema refresh
DEFAULT_CAPACITY = 64
DEFAULT_REPOSITORIES = 4096


def fingerprint(registry: KindRegistry) -> str:
    """The identity of the kinds a store schema serves (``builtin`` for none)."""
    custom = sorted((d for d in registry if not d.builtin), key=lambda d: d.kind)
    if not custom:
        return BUILTIN
    text = json.dumps(custom, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _plain(value: object) -> object:
    """JSON for ``fingerprint``: dataclasses as their fields (not ``source``: where a
    definition was read from does not change its kinds), without ``asdict``'s deep copy."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.name != "source"
        }
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


class CandidateError(Exception):
    def __init__(self, errors: tuple[str, ...]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class BuiltSchema:
    snapshot: SchemaSnapshot
    fingerprint: str
    kinds: tuple[str, ...]
    untyped: tuple[str, ...]  # "<Kind>: <reason>"
    problems: tuple[TypeProblem, ...] = ()  # name collisions of the kinds' GraphQL types


@dataclass(frozen=True, slots=True)
class Failure:
    at: datetime
    commit: str | None
    fingerprint: str | None
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RepositorySchema:
    """What one repository serves; replaced whole, never changed."""

    built: BuiltSchema
    commit: str | None  # the head the served kinds were read at
    tree: str | None  # the kinds tree id last tried (None: head not read)
    checked: float  # monotonic time of the last check
    checked_at: datetime
    last_failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    repository: str
    fingerprint: str
    commit: str | None
    kinds: tuple[str, ...]
    untyped: tuple[str, ...]
    published_at: datetime
    checked_at: datetime
    last_failure: Failure | None
    problems: tuple[TypeProblem, ...] = ()


@dataclass
class StoreSchemas:
    """The ``SchemaSource`` of store endpoints (``graphql_http.GraphQLEndpoint``)."""

    services: ApiServices
    ttl: float = DEFAULT_TTL
    capacity: int = DEFAULT_CAPACITY
    repositories: int = DEFAULT_REPOSITORIES
    settle_timeout: float = DEFAULT_SETTLE
    warm_documents: int = DEFAULT_WARM
    builds: int = 0  # candidates built (cache misses), for tests and metrics
    _schemas: OrderedDict[str, BuiltSchema] = field(default_factory=OrderedDict)
    _repos: OrderedDict[str, RepositorySchema] = field(default_factory=OrderedDict)
    _tasks: dict[str, asyncio.Task[RepositorySchema]] = field(default_factory=dict)
    _again: dict[str, RepositoryRecord] = field(default_factory=dict)
    _versions: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _documents: DocumentCache | None = None

    @property
    def documents(self) -> DocumentCache:
        if self._documents is None:
            self._documents = DocumentCache.from_settings(self.services.settings.api)
        return self._documents

    # ------------------------------------------------------------------ serving
    async def select(self, request: Request, principal: Principal | None) -> SchemaChoice:
        params = request.path_params
        name = f"{params['namespace']}/{params['repo']}"
        record = await readable_repository(self.services.store, principal, name)
        snapshot = await self.snapshot(record)
        return SchemaChoice(snapshot, self.documents, record.repository_id)

    async def snapshot(self, record: RepositoryRecord) -> SchemaSnapshot:
        """The schema ``record`` serves now (a stale one triggers a background refresh)."""
        key = record.repository_id
        state = self._repos.get(key)
        if state is None:
            state = await self.refresh(record)
        if state.built.fingerprint in self._schemas:  # LRU by use, not by build
            self._schemas.move_to_end(state.built.fingerprint)
        if time.monotonic() - state.checked >= self.ttl:
            if key in self._repos:
                self._repos.move_to_end(key)
            self._start(record)
        return state.built.snapshot

    async def status(self, record: RepositoryRecord) -> SchemaStatus:
        """What ``record``'s endpoint serves (its schema is worked out if it has none yet)."""
        await self.snapshot(record)
        state = self._repos.get(record.repository_id)
        if state is None:  # evicted at once (thousands of repositories in one tick)
            state = await self.refresh(record)
        built = state.built
        return SchemaStatus(
            record.repository_id,
            built.fingerprint,
            state.commit,
            built.kinds,
            built.untyped,
            built.snapshot.published_at,
            state.checked_at,
            state.last_failure,
            built.problems,
        )

    def served_commit(self, repository_id: str) -> str | None:
        """The commit the kinds ``repository_id`` is served with came from (None: unknown)."""
        state = self._repos.get(repository_id)
        return state.commit if state is not None else None

    async def close(self) -> None:
        self._again.clear()
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # ------------------------------------------------------------------ refresh
    def refresh(self, record: RepositoryRecord) -> asyncio.Task[RepositorySchema]:
        """Check the head's kinds now (joins a check already running)."""
        return self._start(record)

    def changed(self, record: RepositoryRecord) -> None:
        """A hint that ``record``'s default branch moved (post-receive of a push): check now
        rather than at the next stale request. A check already running may have read the
        old head, so another one follows it. Repositories never served are left alone."""
        key = record.repository_id
        if key not in self._repos:
            return
        if key in self._tasks:
            self._again[key] = record
        else:
            self._start(record)

    async def settle(self, record: RepositoryRecord) -> None:
        """Check ``record``'s head now (``changed``) and wait — at most ``settle_timeout`` —
        until a check that began after this call has published its outcome. A push's
        post-receive and an API write that changed ``kinds/`` call it, so the pusher's or
        writer's next request is served the new kinds. Repositories never served return at
        once; a slow or failed check is logged by its task, never raised here."""
        key = record.repository_id
        running = self._tasks.get(key)
        self.changed(record)
        task = self._tasks.get(key)
        if task is None:
            return
        deadline = time.monotonic() + self.settle_timeout
        try:
            await asyncio.wait_for(asyncio.shield(task), self.settle_timeout)
            follow = self._tasks.get(key)  # started by ``_done`` when one was running
            if running is not None and follow is not None and follow is not task:
                left = max(deadline - time.monotonic(), 0.0)
                await asyncio.wait_for(asyncio.shield(follow), left)
        except TimeoutError:
            log.warning(
                "store schema of %s: refresh still running after %.1f s", key, self.settle_timeout
            )
        except Exception:  # noqa: BLE001, S110 - logged by the task's done callback
            pass

    async def committed(self, record: RepositoryRecord, result: WriteResult) -> None:
        """``CatalogWriter.on_commit``: an API write committed ``result``. If it changed a file
        under ``kinds/`` of the default branch, ``settle`` (the same trigger as a push)."""
        branch = result.branch.removeprefix("refs/heads/")
        if branch != record.default_branch or result.dry_run:
            return
        prefix = KINDS_DIRECTORY + "/"
        if any(change.path.startswith(prefix) for change in result.changes):
            await self.settle(record)

    def _start(self, record: RepositoryRecord) -> asyncio.Task[RepositorySchema]:
        key = record.repository_id
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._refresh(record))
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        return task

    def _done(self, key: str, task: asyncio.Task[RepositorySchema]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        again = self._again.pop(key, None)
        if again is not None and not task.cancelled():
            self._start(again)
        if not task.cancelled() and task.exception() is not None:
            log.error("schema refresh of %s failed", key, exc_info=task.exception())

    async def _refresh(self, record: RepositoryRecord) -> RepositorySchema:
        key = record.repository_id
        old = self._repos.get(key)
        now, at = time.monotonic(), datetime.now(UTC)
        commit: str | None = None
        left_out: tuple[str, ...] = ()
        try:
            commit = await self._head(record)
            loader = self.services.kinds()
            tree = EMPTY if commit is None else await loader.tree_id(key, commit)
            if old is not None and old.tree == tree:
                if old.built.fingerprint not in self._schemas:  # evicted meanwhile
                    self._remember(old.built)
                return self._keep(key, dataclasses.replace(old, checked=now, checked_at=at))
            if commit is None:
                registry = builtin_registry()
            else:
                kinds = await loader.of_tree(key, commit, tree)
                registry = kinds.registry
                dropped = (*loader.unreadable(tree), *kinds.errors)
                left_out = tuple(f"{e.path}: {e.message}" for e in dropped)
            fp = fingerprint(registry)
            built = self._schemas.get(fp) or await self._build_off_loop(fp, registry)
            if old is not None and old.built is not built:  # its clients' documents, ready
                with short_switches():
                    await asyncio.to_thread(self._warm, old.built.snapshot, built.snapshot)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the last known-good schema stays
            errors = exc.errors if isinstance(exc, CandidateError) else (f"{exc}",)
            failure = Failure(at, commit, None, errors)
            log.warning("store schema of %s not rebuilt: %s", key, "; ".join(errors))
            if old is None:  # nothing known-good yet: serve the built-ins meanwhile
                base = self._schemas.get(BUILTIN) or await self._build_off_loop(
                    BUILTIN, builtin_registry()
                )
                self._remember(base)
                state = RepositorySchema(base, None, None, now, at, failure)
            else:  # tree None: try again at the next check
                state = dataclasses.replace(
                    old, tree=None, checked=now, checked_at=at, last_failure=failure
                )
            return self._keep(key, state)
        self._remember(built)
        published_failure = (
            Failure(at, commit, fp, tuple(f"definition left out: {e}" for e in left_out))
            if left_out
            else None
        )
        if old is not None and old.built is not built:
            log.info("store schema of %s now %s (commit %s)", key, fp, commit)
        return self._keep(key, RepositorySchema(built, commit, tree, now, at, published_failure))

    def _remember(self, built: BuiltSchema) -> None:
        """Cache ``built`` (most recently used). Evicting a schema also forgets the
        repositories serving it, so no more than ``capacity`` schemas stay reachable from
        here; such a repository works its schema out again at its next request."""
        self._schemas[built.fingerprint] = built
        self._schemas.move_to_end(built.fingerprint)
        while len(self._schemas) > self.capacity:
            _, evicted = self._schemas.popitem(last=False)
            for key in [k for k, state in self._repos.items() if state.built is evicted]:
                del self._repos[key]

    def _keep(self, key: str, state: RepositorySchema) -> RepositorySchema:
        self._repos[key] = state  # the atomic swap: one reference
        self._repos.move_to_end(key)
        while len(self._repos) > self.repositories:
            self._repos.popitem(last=False)
        return state

    async def _head(self, record: RepositoryRecord) -> str | None:
        try:
            resolved = await self.services.git().resolve_revision(
                record.repository_id, f"refs/heads/{record.default_branch}"
            )
        except NotFound:
            return None  # no commit yet
        return resolved.commit_sha or None

    async def _build_off_loop(self, fp: str, registry: KindRegistry) -> BuiltSchema:
        """``_build`` in a worker thread: a build is tens of milliseconds of CPU, which on
        the event loop would stall every request of every repository meanwhile."""
        with short_switches():
            return await asyncio.to_thread(self._build, fp, registry)

    def _warm(self, old: SchemaSnapshot, new: SchemaSnapshot) -> int:
        """Prepare (parse, validate, plan) against ``new`` the documents most recently used
        with ``old``, in a worker thread before ``new`` is published, so the first requests
        after a swap do not all pay for it on the event loop. Documents ``new`` refuses
        (a removed field) are skipped: their clients get the error when they ask."""
        warmed = 0
        for query, parsed in self.documents.recent_documents(old.version, self.warm_documents):
            try:
                prepared = self.documents.prepare(new, query, parsed, valid_in=old.schema)
                for definition in prepared.document.definitions:
                    if isinstance(definition, OperationDefinitionNode):
                        prepared.plan(definition)
            except (DocumentError, GraphQLError):
                continue
            warmed += 1
        return warmed

    def _candidate(
        self, registry: KindRegistry, *, isolate: bool
    ) -> tuple[CustomKindsModule, StoreMutationsModule, CustomControlModule, GraphQLSchema]:
        # the platform's part (shared, built once per process: ``platform``) comes first: a
        # custom kind never takes one of its type names (``groups`` serves it under another)
        shared = platform(self.services.settings.api.max_page_size)
        custom = CustomKindsModule(registry, isolate=isolate)
        store = StoreMutationsModule(registry, shared.catalog, custom, builtin=False)
        _, control = control_modules(registry)
        modules: list[SchemaModule] = [custom, RepositoryBound(store), RepositoryBound(control)]
        if self.services.settings.api.federation:  # a Federation v2 subgraph: kinds keyed
            modules.append(
                FederationModule(registry, lambda: {k: t.name for k, t in custom.types.items()})
            )
        try:
            builder = shared.fork()
            for module in modules:
                builder.module = module.name
                module.contribute(builder)
            schema = builder.build(extensions={REGISTRY_EXTENSION: registry})
        except Exception as exc:
            raise CandidateError((f"schema build failed: {exc}",)) from exc
        errors = tuple(e.message for e in validate_schema(schema))
        if errors:
            raise CandidateError(errors)
        return custom, store, control, schema

    def _build(self, fp: str, registry: KindRegistry) -> BuiltSchema:
        """Build and validate a candidate (``CandidateError`` if it is not one). Runs in a
        worker thread: it touches nothing shared but the counters (under ``_lock``)."""
        with self._lock:
            self.builds += 1
        try:  # the common case: every kind types cleanly, each built once
            custom, store, control, schema = self._candidate(registry, isolate=False)
        except CandidateError:  # find the kinds at fault: each one checked on its own
            custom, store, control, schema = self._candidate(registry, isolate=True)
        with self._lock:
            version = next(self._versions)
        snapshot = SchemaSnapshot(schema, version, datetime.now(UTC))
        kinds = tuple(sorted(d.kind for d in registry if not d.builtin))
        untyped = tuple(f"{k}: {why}" for k, why in sorted(custom.fallbacks.items()))
        untyped += tuple(
            f"{k} (no typed mutations): {why}"
            for k, why in sorted(store.skipped.items())
            if not registry.get(k).builtin
        )
        untyped += tuple(
            f"{k} (upsert takes spec: JSON): {why}"
            for k, why in sorted(store.untyped_inputs.items())
            if not registry.get(k).builtin
        )
        untyped += tuple(f"{k}: {why}" for k, why in sorted(control.skipped.items()))
        return BuiltSchema(snapshot, fp, kinds, untyped, tuple(custom.problems))
