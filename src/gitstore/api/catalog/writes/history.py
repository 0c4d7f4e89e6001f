"""The history of one resource: the commits that touched it, newest first, with diffs.

Read from Git through the git service (history is not storefront reading, so it does not come
from the KV projection). For resource ``(kind, name)`` on the default branch:

1. ``CommitLog(revision=<branch head>, path=p, limit=first)`` for every candidate path of
   the resource (``products/<name>.yaml|.yml|.json|.md``, concurrently), so the history
   survives a change of format; merged newest first by committer time, ``first`` kept;
2. per commit, ``GetChangedPaths(parent, commit)`` restricted to those paths tells how the
   resource changed (``ADDED`` / ``MODIFIED`` / ``DELETED``; a format switch is one
   ``MODIFIED``) and which blobs to compare; a layout migration commit (trailer
   ``Layout-Migration``, which moves every file) is not diffed: the resource's files are
   looked up by path at it and at its parent instead (a ``MODIFIED`` entry, no field changes);
3. one ``GetBlobs`` by id for all of them; the diff is ``diff_manifests(old, new)`` (a side
   that does not parse counts as absent).

Each entry also carries the trailers the write pipeline records: ``Actor``, ``Request-Id``,
``Idempotency-Key``. Cost: 4 + ``first`` small RPCs (at most 8 at once) and one blob stream.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from gitstore.domain.content import FieldChange, KindRegistry, candidate_paths, diff_manifests
from gitstore.domain.content.manifest import ResourceIdentity
from gitstore.git.v1 import git_service_pb2 as pb

from .git import BranchView, StoredFile
from .plan import ADDED, DELETED, MODIFIED, parse_stored

_CONCURRENCY = 8
ORDER_DEPTH = 10_000


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    commit: str
    author_name: str
    author_email: str
    committed_at: datetime
    message: str
    actor: str | None
    request_id: str | None
    idempotency_key: str | None
    path: str
    change_type: str
    diff: tuple[FieldChange, ...]


async def resource_history(
    view: BranchView,
    identity: ResourceIdentity,
    first: int,
    registry: KindRegistry,
    max_bytes: int,
) -> list[HistoryEntry]:
    head = await view.head()
    if head is None:
        return []
    paths = candidate_paths(identity.kind, identity.name, registry)
    logs = await asyncio.gather(*(view.log(head, path=p, limit=first) for p in paths))
    commits: dict[str, pb.CommitInfo] = {}
    for log in logs:
        for info in log:
            commits.setdefault(info.sha, info)
    if sum(1 for log in logs if log) > 1:
        ordered = await _branch_order(view, head, commits)
    else:
        ordered = list(commits.values())
    ordered = ordered[:first]
    wanted = set(paths)
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def changes_of(info: pb.CommitInfo) -> list[pb.ChangedPath]:
        parent = info.parent_shas[0] if info.parent_shas else ""
        async with gate:
            if info.trailers.get("Layout-Migration") and parent:
                return await _moved(view, parent, info.sha, paths)
            changed = await view.changed_paths(parent, info.sha)
        return [c for c in changed if c.path in wanted]

    per_commit = await asyncio.gather(*(changes_of(i) for i in ordered))
    blob_ids = [
        b for changes in per_commit for c in changes for b in (c.old_blob_id, c.new_blob_id)
    ]
    contents = await view.blobs_by_id(blob_ids)
    return [
        _entry(info, changes, contents, max_bytes)
        for info, changes in zip(ordered, per_commit, strict=True)
    ]


async def _moved(view: BranchView, parent: str, sha: str, paths: list[str]) -> list[pb.ChangedPath]:
    """The resource's changes in a commit that moved files, from its files at both sides."""
    before = {s.path: s.blob_id for s in await view.blobs(parent, paths=paths)}
    after = {s.path: s.blob_id for s in await view.blobs(sha, paths=paths)}
    out: list[pb.ChangedPath] = []
    for path in paths:
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if new is None:
            out.append(
                pb.ChangedPath(path=path, change_type=pb.CHANGE_TYPE_DELETED, old_blob_id=old or "")
            )
        elif old is None:
            out.append(pb.ChangedPath(path=path, change_type=pb.CHANGE_TYPE_ADDED, new_blob_id=new))
        else:
            out.append(
                pb.ChangedPath(
                    path=path, change_type=pb.CHANGE_TYPE_MODIFIED, old_blob_id=old, new_blob_id=new
                )
            )
    return out


async def _branch_order(
    view: BranchView, head: str, commits: dict[str, pb.CommitInfo]
) -> list[pb.CommitInfo]:
    """Commits from several path logs in the branch's own (topological) order, walking the
    branch log until all are seen (at most ``ORDER_DEPTH`` commits; any not reached go
    last, newest first by committer time)."""
    position: dict[str, int] = {}
    request = pb.CommitLogRequest(
        repository_id=view.repository_id, revision=head, limit=ORDER_DEPTH
    )
    async for info in view.git.commit_log(request):
        if info.sha in commits:
            position[info.sha] = len(position)
            if len(position) == len(commits):
                break
    rest = sorted(
        (i for i in commits.values() if i.sha not in position),
        key=lambda i: i.committer.time,
        reverse=True,
    )
    return sorted((commits[s] for s in position), key=lambda i: position[i.sha]) + rest


def _entry(
    info: pb.CommitInfo,
    changes: list[pb.ChangedPath],
    contents: dict[str, bytes],
    max_bytes: int,
) -> HistoryEntry:
    old_file = new_file = None
    for c in changes:
        if c.old_blob_id and c.change_type != pb.CHANGE_TYPE_ADDED and old_file is None:
            old_file = StoredFile(c.path, c.old_blob_id, contents.get(c.old_blob_id, b""))
        if c.new_blob_id and c.change_type != pb.CHANGE_TYPE_DELETED and new_file is None:
            new_file = StoredFile(c.path, c.new_blob_id, contents.get(c.new_blob_id, b""))
    old = parse_stored(old_file, max_bytes) if old_file else None
    new = parse_stored(new_file, max_bytes) if new_file else None
    change_type = MODIFIED
    if old_file is None:
        change_type = ADDED
    elif new_file is None:
        change_type = DELETED
    shown = new_file or old_file
    path = shown.path if shown is not None else ""
    trailers = info.trailers
    author = info.author
    return HistoryEntry(
        commit=info.sha,
        author_name=author.name,
        author_email=author.email,
        committed_at=datetime.fromtimestamp(info.committer.time, UTC),
        message=info.subject.strip() or info.message.strip(),
        actor=trailers.get("Actor") or None,
        request_id=trailers.get("Request-Id") or None,
        idempotency_key=trailers.get("Idempotency-Key") or None,
        path=path,
        change_type=change_type,
        diff=tuple(diff_manifests(old, new)),
    )
