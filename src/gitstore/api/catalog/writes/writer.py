"""Catalogue mutations: validated, idempotent, conflict-checked commits through the git service.

The pipeline of every write (``applyManifests``, ``upsert<Kind>``, ``delete<Kind>``,
``revertCommit``), in order; nothing is committed unless every step passes:

1. **access** — the caller may write the repository's namespace (``access``), checked
   before the input is even read, so a caller without access learns nothing from the
   answers to bad input (and cannot make the server parse anything);
2. **input** — options and manifests checked and validated against their kind's schema
   without any I/O (``inputs``): all problems at once, as ``userErrors`` with JSON
   paths (``problems``);
3. **dry run** — plan at the branch head, return the changes with their semantic diffs,
   stop (no idempotency key is taken, nothing is written);
4. **idempotency** — with an ``idempotencyKey``, claim it or replay the first answer
   (``idempotency``);
5. **check and commit**, up to ``MAX_ATTEMPTS`` rounds: read the branch head ``H``; read the
   resources' files at ``H``; check ``expectedVersion`` (``plan``); plan the actions
   (unchanged resources make none; if nothing changes, no commit is made and the answer is
   ``H`` with ``committed: false``); ``CommitFiles`` with ``expected_head = H``, ``rebase``
   and the paths the round read at ``H`` (``BranchView.paths_read``): the git service
   applies it to a later head when none of the paths it writes or read changed since
   ``H``, so writers of different resources never refuse each other. If a path did change
   (``FAILED_PRECONDITION`` and a new head), start the round again, so every check holds
   for exactly the state the commit replaces: no lost update. A ``FAILED_PRECONDITION`` at
   an unchanged head is the git service refusing for another reason and is returned.
   Rounds exhausted: ``ABORTED``.
6. **indexing** — the answer's ``indexing`` handle (``indexing``); with
   ``waitForIndex`` the answer waits until storefront reads see the commit, or the timeout.

Commits are authored by the caller (``<username> <username@users.gitstore.local>``), with a
generated message (``upsert Product blue-shirt``) unless one is given, and the trailers
``Actor``, ``Request-Id`` (the HTTP request id: the correlation id the git service puts on
the ref-update event), ``Idempotency-Key`` and ``Schema-Version`` (the apiVersions of the
written manifests; ``gitstore.dev/v1`` for deletions).

If the ``CommitFiles`` call fails without a definite answer (the git service went away,
deadline), the write looks for its own commit on the branch (``Request-Id`` trailer among the
last ``RECOVERY_DEPTH`` commits) before giving up, so an acknowledgement lost in transit is
still answered with its commit (and the idempotency key is completed, not released).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gitstore.backends.kv import KvStore
from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.config import Settings
from gitstore.domain.content import KindRegistry, Manifest
from gitstore.domain.content.kindset import Kinds
from gitstore.domain.content.manifest import ResourceIdentity
from gitstore.domain.conversion import HookRunner
from gitstore.domain.errors import (
    Aborted,
    FailedPrecondition,
    InvalidArgument,
    PermanentError,
    Unavailable,
)
from gitstore.git.client import GitClient, GitServiceError
from gitstore.git.kinds import KindsLoader
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.switching import short_switches

from ...refaudit import audit_ref_update
from .access import writable_repository
from .git import BranchView
from .history import HistoryEntry, resource_history
from .idempotency import IdempotencyGate
from .indexing import PENDING, IndexWatcher
from .inputs import ManifestBuilder, Operation, WriteOptions, request_hash
from .kinds import WriteKinds, touches_kinds
from .metrics import WriteMetrics
from .plan import Plan, check_expected_version, plan_operations
from .recovery import (
    Planner,
    answer_for,
    landed_with_key,
    plan_result,
    recover,
)
from .result import Caller, WriteResult, generated_message, git_blob_id
from .revert import check_sha, load_commit, plan_revert, revert_message

log = logging.getLogger("gitstore.api.catalog.writes")

MAX_ATTEMPTS = 16
DEFAULT_SCHEMA_VERSION = "gitstore.dev/v1"

# told of every write that made a commit (``on_commit``), once the commit is durable
CommitListener = Callable[[RepositoryRecord, WriteResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Round:
    head: str | None  # the branch head the commit is compare-and-swapped against
    base: str | None  # what the plan was made against (the fork point of a new branch)
    plan: Plan


async def _discard(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for it, without raising its outcome (ours still propagates)."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: no "never retrieved" log


AfterCommit = Callable[[RepositoryRecord, str, str], Awaitable[object]]


class CatalogWriter:
    def __init__(
        self,
        *,
        store: MetadataStore,
        git: GitClient,
        kv: KvStore | None,
        settings: Settings,
        metrics: WriteMetrics | None = None,
        registry: KindRegistry | None = None,
        kinds: KindsLoader | None = None,
        hook_runner: Callable[[], HookRunner] | None = None,
        hook_pool: Callable[[], AsyncHookRunner] | None = None,
        after_commit: AfterCommit | None = None,
        on_commit: CommitListener | None = None,
    ) -> None:
        self.store = store
        # told (repository, full ref, actor) after each commit: change requests from the
        # branch move to the new head (``api.changes``); failures are logged, not raised
        self.after_commit = after_commit
        self.git = git
        self.kv = kv
        self.settings = settings
        self.metrics = metrics
        self.registry = registry or KindRegistry.builtin()
        self.builder = ManifestBuilder(self.registry, settings.content.max_manifest_bytes)
        # the kinds of the head a write is planned on (``kinds``); None: built-ins only
        self.kinds = kinds
        self.hook_runner = hook_runner
        self.hook_pool = hook_pool
        self.on_commit = on_commit

    def _write_kinds(self, repository_id: str) -> WriteKinds | None:
        if self.kinds is None:
            return None
        runner = self.hook_runner
        if runner is None:
            raise Unavailable("no conversion hook runner is configured")
        return WriteKinds(
            self.kinds,
            repository_id,
            self.settings.content.max_manifest_bytes,
            runner,
            self.hook_pool,
        )

    async def use_head_kinds(
        self,
        record: RepositoryRecord,
        options: WriteOptions,
        definitions: Sequence[Manifest] = (),
    ) -> None:
        """Validate input with the kinds of the branch head (plus the request's own
        ``definitions``): ``self.builder`` and ``self.registry`` follow."""
        kinds = self._write_kinds(record.repository_id)
        if kinds is None:
            return
        view = self._view(record, options)
        head = await view.head() or await self._fork_point(view, record)
        base = await kinds.head(head)
        if definitions:
            # a new registry is CPU-bound (~3-4 ms): off the event loop, with short GIL
            # switches, so storefront requests in flight are not held up meanwhile
            def build() -> Kinds:
                with short_switches():
                    return kinds.effective(base, definitions)

            effective = await asyncio.to_thread(build)
        else:
            effective = base
        self.registry = effective.registry
        self.builder = ManifestBuilder(self.registry, self.settings.content.max_manifest_bytes)

    # ------------------------------------------------------------------ entry points
    async def write(
        self,
        caller: Caller,
        mutation: str,
        data: Mapping[str, Any],
        operations: Sequence[Operation],
        options: WriteOptions,
        *,
        record: RepositoryRecord | None = None,
    ) -> WriteResult:
        """Put and remove resources in one commit (see the module docstring); ``record``:
        the repository as ``writable`` answered it (else it is looked up and checked)."""
        identities = [op.identity for op in operations]

        if record is None:
            record = await self.writable(caller, data["repository"])
        kinds = self._write_kinds(record.repository_id)

        async def planner(view: BranchView, base: str | None) -> Plan:
            registry, builder = self.registry, self.builder
            if kinds is not None:
                head = await kinds.head(base)
                effective = kinds.for_operations(head, operations)
                registry = view.registry = effective.registry
                if registry is not self.registry:
                    kinds.revalidate(operations, registry)
                    builder = ManifestBuilder(registry, self.settings.content.max_manifest_bytes)
                if touches_kinds(operations):
                    await kinds.check_change(base, head.registry, effective, operations)
                await kinds.check_hub(base, operations, registry)
            current = await view.files(base, identities)
            if options.expected_version:
                await check_expected_version(view, base, options.expected_version, current)
            layout = await view.layout(base)
            return plan_operations(
                operations,
                current,
                builder,
                registry,
                layout=layout,
                first_commit=base is None,
            )

        message = options.message
        result = await self._run(caller, mutation, data, options, planner, message, record=record)
        return await self._committed(record, result)

    async def _committed(self, record: RepositoryRecord, result: WriteResult) -> WriteResult:
        """Tell ``on_commit`` of a commit this request made (not of a replayed answer)."""
        if self.on_commit is not None and result.committed and not result.replayed:
            await self.on_commit(record, result)
        return result

    async def writable(self, caller: Caller, repository: str) -> RepositoryRecord:
        """The repository, if the caller may change its catalogue (``access``)."""
        return await writable_repository(self.store, caller.principal, repository)

    async def revert(
        self,
        caller: Caller,
        data: Mapping[str, Any],
        sha: str,
        options: WriteOptions,
        *,
        record: RepositoryRecord | None = None,
    ) -> WriteResult:
        if record is None:
            record = await self.writable(caller, data["repository"])
        wanted = check_sha(sha)
        view = self._view(record, options)
        target = await load_commit(view, wanted)

        kinds = self._write_kinds(record.repository_id)

        async def planner(view: BranchView, base: str | None) -> Plan:
            registry = self.registry
            if kinds is not None:  # the kinds of the head the revert is planned on
                registry = view.registry = (await kinds.head(base)).registry
            return await plan_revert(
                view, base, target, registry, self.settings.content.max_manifest_bytes
            )

        message = options.message or revert_message(target)
        result = await self._run(
            caller,
            "revertCommit",
            data,
            options,
            planner,
            message,
            extra_trailers={"Reverts": target.sha},
            record=record,
        )
        return replace(await self._committed(record, result), reverted=target.sha)

    async def history(
        self, record: RepositoryRecord, kind: str, name: str, first: int
    ) -> list[HistoryEntry]:
        view = BranchView(
            self.git, record.repository_id, record.default_branch, registry=self.registry
        )
        kinds = self._write_kinds(record.repository_id)
        if kinds is not None:  # the kinds of the default branch's head
            view.registry = (await kinds.head(await view.head())).registry
        wanted = kind.lower()
        definition = next((d for d in view.registry if d.kind.lower() == wanted), None)
        if definition is None:
            known = ", ".join(view.registry.kinds())
            raise InvalidArgument(
                f"kind {kind!r} is not a known kind (known: {known})", field="kind"
            )
        return await resource_history(
            view,
            ResourceIdentity(definition.kind, name),
            first,
            view.registry,
            self.settings.content.max_manifest_bytes,
        )

    # ------------------------------------------------------------------ the pipeline
    async def _run(
        self,
        caller: Caller,
        mutation: str,
        data: Mapping[str, Any],
        options: WriteOptions,
        planner: Planner,
        message: str | None,
        *,
        extra_trailers: Mapping[str, str] | None = None,
        record: RepositoryRecord | None = None,
    ) -> WriteResult:
        if record is None:
            record = await writable_repository(self.store, caller.principal, data["repository"])
        view = self._view(record, options)
        if options.dry_run:
            preview = await self._prepare(view, record, planner)
            return plan_result(view, preview.plan, None, committed=False, dry_run=True)
        gate: IdempotencyGate | None = None
        first_round: asyncio.Task[_Round] | None = None
        if options.idempotency_key:
            gate = IdempotencyGate(
                self.store,
                f"{record.repository_id}:{caller.principal.username}",
                options.idempotency_key,
                request_hash(mutation, data),
            )
            # the first round's git reads overlap the claim; a replay discards them
            first_round = asyncio.ensure_future(self._prepare(view, record, planner))
            try:
                stored = await gate.begin()
            except BaseException:
                await _discard(first_round)
                raise
            if stored is not None:
                await _discard(first_round)
                replayed = replace(WriteResult.from_json(stored), replayed=True)
                return await self._indexing(record, view, replayed, options)
            if gate.took_over is not None:
                try:
                    found = await landed_with_key(view, caller, gate)
                except BaseException:
                    await _discard(first_round)
                    await gate.abandon()  # not released: the next retry searches again
                    raise
                if found is not None:
                    await _discard(first_round)
                    result = await answer_for(view, planner, found)
                    _, answered = await asyncio.gather(
                        gate.complete(result.to_json()),
                        self._indexing(record, view, result, options),
                    )
                    return answered
        try:
            result = await self._commit(
                caller,
                record,
                view,
                options,
                planner,
                message,
                extra_trailers,
                first_round,
                gate,
                mutation=mutation,
            )
        except BaseException:
            if first_round is not None:
                await _discard(first_round)
            if gate is not None:
                await gate.release()
            raise
        if gate is None:
            return await self._indexing(record, view, result, options)
        # storing the answer never raises (see idempotency.py); the index check overlaps it
        _, answered = await asyncio.gather(
            gate.complete(result.to_json()), self._indexing(record, view, result, options)
        )
        return answered

    async def _audit(
        self,
        caller: Caller,
        mutation: str,
        record: RepositoryRecord,
        view: BranchView,
        options: WriteOptions,
        old: str | None,
        response: pb.CommitFilesResponse,
    ) -> None:
        """The commit's ``ref.update`` audit entry (one insert; the commit is durable already,
        so a failure is logged, not raised)."""
        try:
            await audit_ref_update(
                self.store,
                caller.principal.username,
                record.repository_id,
                view.ref,
                old,
                response.commit_sha,
                transport="api",
                operation=mutation,
                correlation_id=caller.request_id,
                idempotency_key=options.idempotency_key or "",
            )
        except Exception:
            log.exception("audit of %s on %s failed", response.commit_sha, record.repository_id)
        if self.after_commit is not None:
            try:
                await self.after_commit(record, view.ref, caller.principal.username)
            except Exception:
                log.exception("after-commit of %s on %s failed", view.ref, record.repository_id)

    async def _prepare(
        self, view: BranchView, record: RepositoryRecord, planner: Planner
    ) -> _Round:
        """One round's reads: the branch head and the plan against it."""
        head = await view.head()
        base = head or await self._fork_point(view, record)
        return _Round(head, base, await planner(view, base))

    async def _commit(
        self,
        caller: Caller,
        record: RepositoryRecord,
        view: BranchView,
        options: WriteOptions,
        planner: Planner,
        message: str | None,
        extra_trailers: Mapping[str, str] | None,
        first_round: asyncio.Task[_Round] | None = None,
        gate: IdempotencyGate | None = None,
        *,
        mutation: str = "",
    ) -> WriteResult:
        for attempt in range(MAX_ATTEMPTS):
            if attempt == 0 and first_round is not None:
                current = await first_round
            else:
                current = await self._prepare(view, record, planner)
            head, base, plan = current.head, current.base, current.plan
            if not plan.actions:
                return plan_result(view, plan, base, committed=False)
            if gate is not None and gate.lost:
                raise Aborted(
                    f"idempotencyKey {options.idempotency_key!r} was taken over by a retry"
                    " while this request worked on it; retry with the same key",
                    field="idempotencyKey",
                )
            trailers = {
                "actor": caller.principal.username,
                "request_id": caller.request_id,
                "idempotency_key": options.idempotency_key or "",
                "schema_version": ", ".join(sorted(plan.schema_versions)) or DEFAULT_SCHEMA_VERSION,
            }
            try:
                response = await view.commit(
                    plan.actions,
                    expected_head=head,
                    author=caller.author,
                    message=message or generated_message(plan.changes),
                    trailers=trailers,
                    extra_trailers=extra_trailers,
                    start_revision=base if head is None and base else "",
                    read_paths=view.paths_read(base),
                )
            except FailedPrecondition:
                if await view.head() == head:
                    raise  # refused for another reason than a moved branch
                if self.metrics is not None:
                    self.metrics.commit_retries.inc()
                log.info("branch %s of %s moved; checking again", view.branch, view.repository_id)
                continue
            except (Unavailable, GitServiceError):
                found = await recover(view, caller.request_id)
                if found is None:
                    raise
                log.warning(
                    "commit %s found after a failed answer; request %s", found, caller.request_id
                )
                blobs = {a.path: git_blob_id(a.content) for a in plan.actions if a.content}
                return plan_result(view, plan, found, committed=True, blobs=blobs)
            old = response.old_head or head
            await self._audit(caller, mutation, record, view, options, old, response)
            blob_ids = {c.path: c.new_blob_id for c in response.changed_paths}
            log.info(
                "committed %s to %s@%s (%d files, request %s%s)",
                response.commit_sha,
                view.repository_id,
                view.branch,
                len(plan.actions),
                caller.request_id,
                f", planned at {response.rebased_from}" if response.rebased_from else "",
            )
            answer = plan_result(view, plan, response.commit_sha, committed=True, blobs=blob_ids)
            return replace(answer, parent=old or None)
        raise Aborted(
            f"branch {view.branch} of {view.repository_id} kept moving during"
            f" {MAX_ATTEMPTS} attempts; retry"
        )

    async def _indexing(
        self,
        record: RepositoryRecord,
        view: BranchView,
        result: WriteResult,
        options: WriteOptions,
    ) -> WriteResult:
        if result.commit is None:
            return result
        if self.kv is None or view.branch != record.default_branch:
            return replace(result, indexing_state=PENDING)
        watcher = IndexWatcher(self.kv, view)
        started = time.perf_counter()
        if options.wait_for_index:
            state = await watcher.wait(result.commit, options.index_timeout, parent=result.parent)
            if self.metrics is not None:
                outcome = "indexed" if state != PENDING else "timeout"
                self.metrics.index_wait.labels(outcome).observe(time.perf_counter() - started)
        else:
            state = await watcher.state(result.commit, parent=result.parent)
        return replace(result, indexing_state=state)

    # ------------------------------------------------------------------ helpers
    def _view(self, record: RepositoryRecord, options: WriteOptions) -> BranchView:
        return BranchView(
            self.git,
            record.repository_id,
            options.branch or record.default_branch,
            registry=self.registry,
            metrics=self.metrics,
        )

    async def _fork_point(self, view: BranchView, record: RepositoryRecord) -> str | None:
        """Where a branch that does not exist yet starts: the default branch's head."""
        if view.branch == record.default_branch:
            return None
        default = BranchView(
            self.git, view.repository_id, record.default_branch, registry=self.registry
        )
        return await default.head()


def is_refusal(exc: BaseException) -> bool:
    """An error that means "nothing was done, fix the input" (goes to ``userErrors``)."""
    return isinstance(exc, PermanentError | Aborted)


__all__ = [
    "Caller",
    "CatalogWriter",
    "HistoryEntry",
    "WriteResult",
    "generated_message",
    "git_blob_id",
    "is_refusal",
]
