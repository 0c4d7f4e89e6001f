"""``revertCommit``: undo one earlier commit with a new commit.

The inverse of commit ``C`` (parent ``P``; a root commit reverts against the empty tree) is
computed from ``GetChangedPaths(P, C)`` and the blobs, never from a checkout:

=============  =========================================
change in C    inverse action
=============  =========================================
ADDED          delete the file
MODIFIED       write the blob it had in ``P``
DELETED        re-create it with the blob it had in ``P``
=============  =========================================

Preconditions, all checked at the branch head the commit is then compare-and-swapped
against:

* ``C`` exists (``NOT_FOUND`` naming ``sha``) and is not a merge (``FAILED_PRECONDITION``);
* **every file ``C`` changed is still exactly as ``C`` left it** at the head (same blob, or
  still absent for a deletion). Otherwise a later change would be silently undone too:
  ``CONFLICT`` naming the first such file and the last commit that changed it — revert that
  one first, or edit by hand. (A commit that is not on the branch fails this too.)
* a manifest being re-created must not exist at the head in another format
  (``products/a.json`` when ``products/a.yaml`` comes back): ``CONFLICT``;
* across a layout migration (``migrateRepositoryLayout``) a manifest path of ``C`` is
  followed to the same file in the head's layout: a file ``C`` changed at
  ``products/a.yaml`` that now lives at ``products/86/a.yaml`` is checked and restored there;
* every restored manifest is validated like any write (``VALIDATION_FAILED`` etc., each
  message starting with the file); files that are not manifests (``README.md``) are restored
  as they were.

The commit message is ``Revert "<subject of C>"`` + ``This reverts commit <C>.``, with a
``Reverts: <C>`` trailer besides the usual ones.
"""

from __future__ import annotations

import re

from gitstore.domain.content import (
    FieldChange,
    KindRegistry,
    ManifestError,
    candidate_paths,
    diff_manifests,
    identity_for_path,
    parse_and_validate,
)
from gitstore.domain.content.layout import Layout
from gitstore.domain.content.paths import PathIdentity, relocated
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from gitstore.git.v1 import git_service_pb2 as pb

from .git import BranchView, StoredFile
from .plan import ADDED, DELETED, MODIFIED, Change, Plan, parse_stored
from .problems import Conflict, Problem, WriteRefused, problem_from_content

_REVISION = re.compile(r"[0-9a-f]{7,64}")


def check_sha(value: str) -> str:
    sha = value.strip().lower()
    if not _REVISION.fullmatch(sha):
        raise InvalidArgument(
            f"sha {value!r:.80} is not a commit id (7 to 64 hex digits)", field="sha"
        )
    return sha


async def load_commit(view: BranchView, sha: str) -> pb.CommitInfo:
    try:
        info = await view.commit_info(sha)
    except (NotFound, InvalidArgument):
        raise NotFound(
            f"commit {sha} does not exist in repository {view.repository_id}", field="sha"
        ) from None
    if len(info.parent_shas) > 1:
        raise FailedPrecondition(
            f"commit {info.sha} is a merge commit; revert the commits it brought in instead",
            field="sha",
        )
    return info


async def plan_revert(
    view: BranchView,
    base: str | None,
    target: pb.CommitInfo,
    registry: KindRegistry,
    max_bytes: int,
) -> Plan:
    if target.trailers.get("Layout-Migration"):
        raise FailedPrecondition(
            f"commit {target.sha} is a layout migration; it moved files without changing"
            " them and cannot be reverted",
            field="sha",
        )
    parent = target.parent_shas[0] if target.parent_shas else ""
    changed = [c for c in await view.changed_paths(parent, target.sha) if c.path]
    if not changed:
        raise FailedPrecondition(f"commit {target.sha} changed no files", field="sha")
    if base is None:
        raise Conflict(
            f"branch {view.branch} has no commits, so commit {target.sha[:12]} is not on it",
            field="sha",
        )
    identities = {c.path: _identity(c.path, registry) for c in changed}
    probe = {c.path for c in changed}
    for found in identities.values():
        if found is not None:
            probe.update(candidate_paths(found.kind, found.name, registry))
    now = {s.path: s for s in await view.blobs(base, paths=sorted(probe))}
    changed = _follow_layout(changed, identities, now, await view.layout(base), registry)
    identities = {c.path: _identity(c.path, registry) for c in changed}
    recreated: list[PathIdentity] = []
    for c in changed:
        found = identities[c.path]
        if c.change_type == pb.CHANGE_TYPE_DELETED and found is not None:
            recreated.append(found)
    await _check_unchanged(view, base, target, changed, now)
    mine = {c.path for c in changed}
    for again in recreated:
        others = [
            p
            for p in candidate_paths(again.kind, again.name, registry)
            if p in now and p not in mine
        ]
        if others:
            raise Conflict(
                f"reverting would re-create {again.kind} {again.name}, which exists again as"
                f" {others[0]}",
                field="sha",
            )
    contents = await view.blobs_by_id(
        [c.old_blob_id for c in changed] + [c.new_blob_id for c in changed]
    )
    plan = Plan()
    problems: list[Problem] = []
    for c in changed:
        ident = identities[c.path]
        before_revert = StoredFile(c.path, c.new_blob_id, contents.get(c.new_blob_id, b""))
        if c.change_type == pb.CHANGE_TYPE_ADDED:
            plan.actions.append(pb.CommitAction(action=pb.ACTION_TYPE_DELETE, path=c.path))
            old = parse_stored(before_revert, max_bytes) if ident else None
            plan.changes.append(_change(c.path, DELETED, ident, diff_manifests(old, None)))
            continue
        restored = contents.get(c.old_blob_id)
        if restored is None:  # pragma: no cover - the blob of a parent commit exists
            raise FailedPrecondition(f"blob {c.old_blob_id} of {c.path} is missing")
        plan.actions.append(
            pb.CommitAction(action=pb.ACTION_TYPE_UPSERT, path=c.path, content=restored)
        )
        if ident is None:
            kind = ADDED if c.change_type == pb.CHANGE_TYPE_DELETED else MODIFIED
            plan.changes.append(_change(c.path, kind, None, []))
            continue
        try:
            manifest = parse_and_validate(restored, c.path, registry, max_bytes=max_bytes)
        except ManifestError as exc:
            for error in exc.errors:
                problem = problem_from_content(error, "sha")
                problems.append(Problem("sha", f"{c.path}: {problem.message}", problem.code))
            continue
        plan.schema_versions.add(manifest.api_version)
        if c.change_type == pb.CHANGE_TYPE_DELETED:
            plan.changes.append(_change(c.path, ADDED, ident, diff_manifests(None, manifest)))
        else:
            current = parse_stored(before_revert, max_bytes)
            plan.changes.append(_change(c.path, MODIFIED, ident, diff_manifests(current, manifest)))
    if problems:
        raise WriteRefused(problems)
    return plan


def _follow_layout(
    changed: list[pb.ChangedPath],
    identities: dict[str, PathIdentity | None],
    now: dict[str, StoredFile],
    layout: Layout,
    registry: KindRegistry,
) -> list[pb.ChangedPath]:
    """Each manifest path of the commit moved to where that file is at the head: a file
    present at the head in the other layout is followed there; a deleted one comes back in
    the head's layout."""
    out: list[pb.ChangedPath] = []
    for c in changed:
        found = identities[c.path]
        path = c.path
        if found is not None:
            if c.change_type == pb.CHANGE_TYPE_DELETED:
                path = relocated(c.path, found, layout, registry)
            elif c.path not in now:
                other = Layout.FLAT if found.layout is Layout.FANOUT else Layout.FANOUT
                twin = relocated(c.path, found, other, registry)
                path = twin if twin in now else c.path
        if path == c.path:
            out.append(c)
        else:
            out.append(
                pb.ChangedPath(
                    path=path,
                    change_type=c.change_type,
                    old_blob_id=c.old_blob_id,
                    new_blob_id=c.new_blob_id,
                )
            )
    return out


def _identity(path: str, registry: KindRegistry) -> PathIdentity | None:
    try:
        return identity_for_path(path, registry)
    except ManifestError:
        return None


async def _check_unchanged(
    view: BranchView,
    base: str,
    target: pb.CommitInfo,
    changed: list[pb.ChangedPath],
    now: dict[str, StoredFile],
) -> None:
    for c in changed:
        stored = now.get(c.path)
        if c.change_type == pb.CHANGE_TYPE_DELETED:
            same = stored is None
        else:
            same = stored is not None and stored.blob_id == c.new_blob_id
        if same:
            continue
        last = await view.last_change(base, c.path)
        latest = f"{last.sha} ({last.subject.strip()[:80]!r})" if last is not None else "unknown"
        raise Conflict(
            f"{c.path} is not as commit {target.sha[:12]} left it: its last change on branch"
            f" {view.branch} is {latest}; revert that first or edit by hand",
            field="sha",
        )


def _change(path: str, kind: str, ident: PathIdentity | None, diff: list[FieldChange]) -> Change:
    return Change(
        path,
        kind,
        ident.kind if ident else None,
        ident.name if ident else None,
        tuple(diff),
    )


def revert_message(target: pb.CommitInfo) -> str:
    subject = (target.subject or target.message).strip().splitlines()
    first = subject[0] if subject else target.sha[:12]
    return f'Revert "{first}"\n\nThis reverts commit {target.sha}.'
