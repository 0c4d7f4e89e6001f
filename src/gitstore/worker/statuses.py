"""Commit statuses: the validation result of each commit an event announces.

For an event that moves a branch to commit ``new``, the files that commit changed (the
event's ``changed_paths``; a diff ``old -> new`` when the event carries none) are parsed and
validated on their own (syntax, envelope, path convention, schema, product rules), and the
result is stored in ``ChannelScope(repo, "status")`` as document ``("commit", sha)``
(shape: ``domain.projection.status_value``; errors ``{path, field, rule, message, line,
column}``). Files the projection just parsed are not parsed again (``checked``). Deleted
files and files outside kind directories are not checked. A valid file written in a spoke
version is judged after conversion to its kind's hub (``worker.hub.hub_errors_of``: the hook
module read at the commit judged, run on the worker's bounded hook pool): a hook that fails or
a hub form that is invalid makes the file invalid (rule ``conversion`` or the hub schema's
rule, "after conversion from … to the hub"). ``HookTimedOut``/a busy pool are raised: the
event is retried. A commit that changes a kind (its definition or its hook module,
``rekind``) is also judged on every stored file of that kind, changed or not: the status of
a hook change names the stored resources the new hook cannot convert.

A ref update can bring several commits (a ``git push`` of a branch with a history): every
commit it brought — ``CommitLog(new, hide_revisions=[old])``; for a new branch (the first
push to an empty repository included) what no other branch head reaches — up to
``MAX_BROUGHT`` of them, the newest first, gets its own status, from the diff against its
first parent (a root commit: its whole tree), before the status of ``new`` is written. So a
status of ``new`` means the commits before it were done; a redelivered event finds it and
costs one read. Commits beyond ``MAX_BROUGHT`` (older ones of a very long push) stay
``PENDING``, logged.

Statuses are written with sequence 1 and ``advance_head=False`` (the scope has no head); a
status that exists already is left alone. Tag events and branch deletions record nothing. A
missing status reads as ``PENDING`` (:func:`get_commit_status`).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gitstore.backends.kv import Batch, KvStore
from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.backends.wasm.runner import WasmHookRunner
from gitstore.domain.content import (
    DEFAULT_MAX_MANIFEST_BYTES,
    ContentError,
    KindRegistry,
    ManifestError,
    identity_for_path,
)
from gitstore.domain.content.kindset import KINDS_DIRECTORY
from gitstore.domain.conversion import needs_hub
from gitstore.domain.errors import NotFound
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.domain.projection import (
    COMMIT_STATUS_KIND,
    CommitStatus,
    commit_status,
    status_scope,
    status_value,
)
from gitstore.git.client import GitClient
from gitstore.git.kinds import KindsLoader
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker.changes import changed, contents, files_at
from gitstore.worker.hub import hub_errors_of, module_at
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.parsing import error_dicts, parse_many
from gitstore.worker.rekind import kind_files, kinds_to_redo

log = logging.getLogger(__name__)

Checked = Mapping[tuple[str, str], tuple[ContentError, ...]]


async def get_commit_status(kv: KvStore, repository: str, sha: str) -> CommitStatus:
    """The stored status of ``sha`` in ``repository``; ``PENDING`` when there is none."""
    doc = await kv.get(status_scope(repository), COMMIT_STATUS_KIND, sha)
    return commit_status(sha, doc.value() if doc is not None else None)


MAX_BROUGHT = 100

Files = list[tuple[str, str]]  # (path, blob id); the blob id may be ''


@dataclass(frozen=True, slots=True)
class Change:
    """What a commit changed against ``base``: the files to judge and every changed path."""

    base: str | None
    files: Files
    paths: tuple[str, ...]


async def _diff(git: GitClient, repository: str, base: str | None, commit: str) -> Change:
    diff = await changed(git, repository, base, commit)
    files = [(c.path, c.new_blob_id) for c in diff if c.change_type != pb.CHANGE_TYPE_DELETED]
    return Change(base, files, tuple(c.path for c in diff))


async def _brought(git: GitClient, event: RefUpdateEvent) -> list[pb.CommitInfo]:
    """The commits the update brought, ``event.new`` first if it is one of them (newest
    first, at most ``MAX_BROUGHT`` besides ``event.new``)."""
    if event.is_creation:  # a new branch brought what no other branch has
        heads = await git.list_refs(event.repository_id, "refs/heads/")
        hide = [ref.peeled or ref.target for ref in heads if ref.name != event.ref]
    else:
        hide = [event.old]
    request = pb.CommitLogRequest(
        repository_id=event.repository_id,
        revision=event.new,
        hide_revisions=hide,
        limit=MAX_BROUGHT + 2,
    )
    try:
        commits = [c async for c in git.commit_log(request)]
    except NotFound:  # e.g. the old head of a late event was force-pushed away and pruned
        log.info(
            "%s: cannot list what %s brought; its own status only",
            event.repository_id,
            event.new[:12],
        )
        return []
    if len(commits) > MAX_BROUGHT + 1:
        log.warning(
            "%s: %d+ commits arrived with %s; statuses for the newest %d only [correlation_id=%s]",
            event.repository_id,
            len(commits),
            event.new[:12],
            MAX_BROUGHT,
            event.correlation_id,
        )
    return commits[: MAX_BROUGHT + 1]


class StatusRecorder:
    def __init__(
        self,
        git: GitClient,
        kv: KvStore,
        *,
        registry: KindRegistry | None = None,
        metrics: WorkerMetrics | None = None,
        max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
        kinds: KindsLoader | None = None,
        hooks: Callable[[], AsyncHookRunner] | None = None,
    ) -> None:
        self.git = git
        self.kv = kv
        self.registry = registry or KindRegistry.builtin()
        self.metrics = metrics or WorkerMetrics()
        self.max_bytes = max_bytes
        # a commit is judged with its own kinds (built-ins plus its kinds/: ``git.kinds``)
        self.kinds = kinds or KindsLoader(git, max_bytes=max_bytes, base=self.registry)
        # conversion hooks to the hub (the projector's pool in ``WorkerService``); None: a
        # runner made here on first use (``close`` stops it)
        self._hooks = hooks
        self._own: tuple[WasmHookRunner, AsyncHookRunner] | None = None

    def hooks(self) -> AsyncHookRunner:
        if self._hooks is not None:
            return self._hooks()
        if self._own is None:
            runner = WasmHookRunner()
            self._own = (runner, AsyncHookRunner(runner))
        return self._own[1]

    def close(self) -> None:
        """Stop the hook runner made here (if any)."""
        if self._own is not None:
            runner, pool = self._own
            self._own = None
            pool.close()
            runner.close()

    async def record(
        self, event: RefUpdateEvent, checked: Checked | None = None
    ) -> CommitStatus | None:
        """Validate and store the status of ``event.new``; None for events without one."""
        if not event.ref.startswith("refs/heads/") or event.new == ZERO_SHA:
            return None
        repository, sha = event.repository_id, event.new
        scope = status_scope(repository)
        existing = await self.kv.get(scope, COMMIT_STATUS_KIND, sha)
        if existing is not None:
            return commit_status(sha, existing.value())
        brought = await _brought(self.git, event)
        earlier = [info for info in brought if info.sha != sha]  # usually none
        shas = [info.sha for info in earlier]
        judged = await self.kv.get_many(scope, COMMIT_STATUS_KIND, shas) if shas else []
        for info, status in zip(earlier, judged, strict=True):
            if status is not None:
                continue
            change = await _diff(self.git, repository, _first_parent(info), info.sha)
            await self._judge(repository, info.sha, change, checked, event.correlation_id)
        if event.changed_paths and not event.is_creation:
            changes = event.changed_paths
            files = [(c.path, c.new_blob_id) for c in changes if c.change_type != "DELETED"]
            change = Change(event.old, files, tuple(c.path for c in changes))
        elif event.changed_paths:
            changes = event.changed_paths
            files = [(c.path, c.new_blob_id) for c in changes if c.change_type != "DELETED"]
            change = Change(None, files, ())
        elif not event.is_creation:
            try:
                change = await _diff(self.git, repository, event.old, sha)
            except NotFound:  # the old head is gone (late event after a force-push + prune)
                [head] = [c async for c in self.git.commit_log(_one(repository, sha))]
                change = await _diff(self.git, repository, _first_parent(head), sha)
        elif brought and brought[0].sha == sha:  # a new branch at a new commit
            change = await _diff(self.git, repository, _first_parent(brought[0]), sha)
        else:  # a new branch at a commit other branches have (its status was recorded there)
            change = Change(None, [], ())
        return await self._judge(repository, sha, change, checked, event.correlation_id)

    async def _judge(
        self,
        repository: str,
        sha: str,
        change: Change,
        checked: Checked | None,
        correlation_id: str,
    ) -> CommitStatus:
        files = change.files
        if change.base is not None and change.paths:
            files = await self._with_kind_files(repository, sha, change)
        errors = await self._check(repository, sha, files, checked or {})
        return await self._store(repository, sha, errors, correlation_id)

    async def _with_kind_files(self, repository: str, sha: str, change: Change) -> Files:
        """``change.files`` plus every file of a kind the commit changed (``rekind``)."""
        base = change.base
        assert base is not None
        new = await self.kinds.registry(repository, sha)
        try:
            redo = await kinds_to_redo(
                new, change.paths, lambda: self.kinds.registry(repository, base)
            )
        except NotFound:  # the base is gone: judge what changed
            return change.files
        if not redo:
            return change.files
        listed = await kind_files(self.git, repository, sha, redo)
        have = {path for path, _ in change.files}
        return change.files + sorted((p, b) for p, b in listed.items() if p not in have)

    async def _store(
        self, repository: str, sha: str, errors: list[ContentError], correlation_id: str
    ) -> CommitStatus:
        value = status_value(sha, error_dicts(errors), _now())
        batch = Batch(status_scope(repository), 1, sha, advance_head=False)
        batch.upsert(COMMIT_STATUS_KIND, sha, value)
        await self.kv.apply(batch)
        status = commit_status(sha, value)
        self.metrics.statuses.labels(status.state).inc()
        log.info(
            "commit %s of %s is %s (%d error(s)) [correlation_id=%s]",
            sha[:12],
            repository,
            status.state,
            len(errors),
            correlation_id,
        )
        return status

    async def _check(
        self, repository: str, sha: str, files: Files, checked: Checked
    ) -> list[ContentError]:
        kinds = await self.kinds.at(repository, sha)
        registry = kinds.registry
        errors: list[ContentError] = []
        if any(path.startswith(f"{KINDS_DIRECTORY}/") for path, _ in files):
            errors.extend(kinds.errors)  # conflicting definitions, named on their files
        todo: Files = []
        for path, blob_id in files:
            try:
                if identity_for_path(path, registry) is None:
                    continue
            except ManifestError as err:
                errors.extend(err.errors)
                continue
            known = checked.get((path, blob_id)) if blob_id else None
            if known is not None:
                errors.extend(known)
            else:
                todo.append((path, blob_id))
        if todo:
            errors.extend(await self._parse(repository, sha, todo, registry))
        errors.sort(key=lambda e: (e.path, e.line or 0, e.field))
        return errors

    async def _parse(
        self, repository: str, sha: str, todo: Files, registry: KindRegistry
    ) -> list[ContentError]:
        by_id = await contents(self.git, repository, [b for _, b in todo if b])
        by_path = await files_at(self.git, repository, sha, [p for p, b in todo if not b])
        files: list[tuple[str, str, bytes]] = []
        for path, blob_id in todo:
            if blob_id and blob_id in by_id:
                files.append((path, blob_id, by_id[blob_id]))
            elif (found := by_path.get(path)) is not None and found.content is not None:
                files.append((path, found.blob_id, found.content))
        parsed = await asyncio.to_thread(parse_many, files, registry, max_bytes=self.max_bytes)
        if needs_hub([p.manifest for p in parsed], registry):
            module = module_at(self.git, repository, sha)
            parsed = await hub_errors_of(parsed, registry, module, self.hooks())
        return [e for p in parsed for e in p.errors]


def _one(repository: str, sha: str) -> pb.CommitLogRequest:
    return pb.CommitLogRequest(repository_id=repository, revision=sha, limit=1)


def _first_parent(info: pb.CommitInfo) -> str | None:
    return info.parent_shas[0] if info.parent_shas else None  # a root commit: its whole tree


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
