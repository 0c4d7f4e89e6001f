"""Commit statuses: the validation result of each commit an event announces.

For an event that moves a branch to commit ``new``, the files that commit changed (the
event's ``changed_paths``; a diff ``old -> new`` when the event carries none) are parsed and
validated on their own (syntax, envelope, path convention, schema, product rules), and the
result is stored in ``ChannelScope(repo, "status")`` as document ``("commit", sha)``
(shape: ``domain.projection.status_value``; errors ``{path, field, rule, message, line,
column}``). Files the projection just parsed are not parsed again (``checked``). Deleted
files and files outside kind directories are not checked.

Statuses are written with sequence 1 and ``advance_head=False`` (the scope has no head); a
status that exists already is left alone, so redelivered events cost one read. Tag events
and branch deletions record nothing. A missing status reads as ``PENDING``
(:func:`get_commit_status`).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping

from gitstore.backends.kv import Batch, KvStore
from gitstore.domain.content import (
    DEFAULT_MAX_MANIFEST_BYTES,
    ContentError,
    KindRegistry,
    ManifestError,
    identity_for_path,
)
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.domain.projection import (
    COMMIT_STATUS_KIND,
    CommitStatus,
    commit_status,
    status_scope,
    status_value,
)
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker.changes import changed, contents, files_at
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.parsing import error_dicts, parse_many

log = logging.getLogger(__name__)

Checked = Mapping[tuple[str, str], tuple[ContentError, ...]]


async def get_commit_status(kv: KvStore, repository: str, sha: str) -> CommitStatus:
    """The stored status of ``sha`` in ``repository``; ``PENDING`` when there is none."""
    doc = await kv.get(status_scope(repository), COMMIT_STATUS_KIND, sha)
    return commit_status(sha, doc.value() if doc is not None else None)


async def _files_of(git: GitClient, event: RefUpdateEvent) -> list[tuple[str, str]]:
    """``(path, blob id)`` of the files ``event.new`` added or changed (blob id may be '')."""
    if event.changed_paths:
        return [(c.path, c.new_blob_id) for c in event.changed_paths if c.change_type != "DELETED"]
    if event.is_creation:
        return []  # a new branch at an existing commit: that commit has its status already
    diff = await changed(git, event.repository_id, event.old, event.new)
    return [(c.path, c.new_blob_id) for c in diff if c.change_type != pb.CHANGE_TYPE_DELETED]


class StatusRecorder:
    def __init__(
        self,
        git: GitClient,
        kv: KvStore,
        *,
        registry: KindRegistry | None = None,
        metrics: WorkerMetrics | None = None,
        max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
    ) -> None:
        self.git = git
        self.kv = kv
        self.registry = registry or KindRegistry.builtin()
        self.metrics = metrics or WorkerMetrics()
        self.max_bytes = max_bytes

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
        errors = await self._check(event, checked or {})
        value = status_value(sha, error_dicts(errors), _now())
        batch = Batch(scope, 1, sha, advance_head=False)
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
            event.correlation_id,
        )
        return status

    async def _check(self, event: RefUpdateEvent, checked: Checked) -> list[ContentError]:
        errors: list[ContentError] = []
        todo: list[tuple[str, str]] = []
        for path, blob_id in await _files_of(self.git, event):
            try:
                if identity_for_path(path, self.registry) is None:
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
            errors.extend(await self._parse(event, todo))
        errors.sort(key=lambda e: (e.path, e.line or 0, e.field))
        return errors

    async def _parse(
        self, event: RefUpdateEvent, todo: list[tuple[str, str]]
    ) -> list[ContentError]:
        repository = event.repository_id
        by_id = await contents(self.git, repository, [b for _, b in todo if b])
        by_path = await files_at(self.git, repository, event.new, [p for p, b in todo if not b])
        files: list[tuple[str, str, bytes]] = []
        for path, blob_id in todo:
            if blob_id and blob_id in by_id:
                files.append((path, blob_id, by_id[blob_id]))
            elif (found := by_path.get(path)) is not None and found.content is not None:
                files.append((path, found.blob_id, found.content))
        parsed = await asyncio.to_thread(parse_many, files, self.registry, max_bytes=self.max_bytes)
        return [e for p in parsed for e in p.errors]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
