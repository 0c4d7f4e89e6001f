"""CommitFiles: several file actions in one commit on a branch, with compare-and-swap.

Order of work (everything that can be refused is refused before anything is written):

1. Validate the request alone: actions (type, paths, previous paths, modes), content sizes,
   author/committer, message and trailers, ``expected_head`` / ``start_revision`` syntax.
2. Under the repository's write locks (``storage.write``): write the blobs (content
   addressed, so they survive retries), then per attempt:
   read the branch head -> check ``expected_head`` -> check each action against the head
   tree (``create`` of an existing path is ``ALREADY_EXISTS``; ``update``/``delete``/``move``
   of a missing one ``FAILED_PRECONDITION``) -> edit the tree along the changed paths only
   (``treeedit``) -> write the commit -> ``refupdate.update_ref`` (outbox intent, CAS,
   committed).
3. If the CAS finds the branch moved: with ``expected_head`` that is ``FAILED_PRECONDITION``
   (the caller's view is stale); without, the actions are re-applied to the new head, up to
   ``settings.git.max_commit_retries`` times with a small random pause, then ``ABORTED``.
   Inside one gitstore process, and between gitstore processes (file lock), writers to a
   repository are already serialised, so retries only happen against other writers (git).
4. ``rebase`` turns the head-level precondition into a path-level one: a branch that moved
   on from ``expected_head`` is no refusal as long as every path of the precondition set
   (the actions' paths and ``read_paths``) has at the head the entry it had at
   ``expected_head`` (:func:`unchanged_since`); the actions are then applied to the head,
   exactly as if the caller had planned them there, since nothing it looked at differs.
   Writers of different files therefore never refuse each other; two writers of one file
   still do (the second gets ``FAILED_PRECONDITION``, reads again, and decides again).

The changed paths come from the actions themselves (old entry looked up by path in the head
tree, new blob known), not from a diff of the trees: cost stays with the depth of the paths.

A branch that does not exist is created by the commit: from ``start_revision`` when given,
as a root commit when the repository has no commits yet, and otherwise refused
(``FAILED_PRECONDITION``) so a forgotten ``start_revision`` never makes an orphan branch.
The default file mode is 100644; ``update``/``upsert``/``move`` keep an existing 100755.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pygit2
from pygit2.enums import FileMode

from gitstore.config import GitSettings
from gitstore.domain.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from gitstore.domain.events import ZERO_SHA
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import cas, events, metadata, names, paths, treeedit
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.refupdate import update_ref
from gitstore.gitservice.revisions import peel_commit, resolve
from gitstore.gitservice.storage import RepositoryStore

MAX_ACTIONS = 10_000
MAX_READ_PATHS = 10_000
A = pb.ActionType
_MODES = {0: 0, FileMode.BLOB: FileMode.BLOB, FileMode.BLOB_EXECUTABLE: FileMode.BLOB_EXECUTABLE}
_KEEPABLE = (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)


@dataclass(slots=True)
class _Plan:
    edits: list[treeedit.Edit] = field(default_factory=list)
    changes: list[pb.ChangedPath] = field(default_factory=list)


def validate_actions(actions: list[pb.CommitAction], git: GitSettings) -> None:
    if not actions:
        raise InvalidArgument("actions must not be empty", field="actions")
    if len(actions) > MAX_ACTIONS:
        raise InvalidArgument(f"at most {MAX_ACTIONS} actions per commit", field="actions")
    for i, action in enumerate(actions):
        where = f"actions[{i}]"
        if action.action not in (
            A.ACTION_TYPE_CREATE,
            A.ACTION_TYPE_UPDATE,
            A.ACTION_TYPE_UPSERT,
            A.ACTION_TYPE_DELETE,
            A.ACTION_TYPE_MOVE,
        ):
            raise InvalidArgument(f"{where}.action must be set", field=f"{where}.action")
        paths.validate_path(action.path, f"{where}.path")
        if action.action == A.ACTION_TYPE_MOVE:
            paths.validate_path(action.previous_path, f"{where}.previous_path")
            if action.previous_path == action.path:
                raise InvalidArgument(f"{where}: previous_path and path are the same")
        elif action.previous_path:
            raise InvalidArgument(f"{where}.previous_path is only for move actions")
        if action.action == A.ACTION_TYPE_DELETE and (action.content or action.mode):
            raise InvalidArgument(f"{where}: a delete takes no content or mode")
        if action.mode not in _MODES:
            raise InvalidArgument(
                f"{where}.mode {action.mode:o} must be 0, 100644 or 100755", field=f"{where}.mode"
            )
    paths.check_sizes(
        ((a.path, len(a.content)) for a in actions), git.max_file_bytes, git.max_commit_bytes
    )
    _check_overlaps(actions)


def _check_overlaps(actions: list[pb.CommitAction]) -> None:
    """Each path may be touched once, and never together with a path beneath it."""
    touched: dict[str, int] = {}
    for i, action in enumerate(actions):
        for path in (action.path, action.previous_path):
            if not path:
                continue
            if path in touched:
                raise InvalidArgument(
                    f"conflicting actions: actions[{touched[path]}] and actions[{i}] "
                    f"both touch {path!r}",
                    field="actions",
                )
            touched[path] = i
    for path, i in touched.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in touched:
                raise InvalidArgument(
                    f"conflicting actions: actions[{touched[parent]}] touches {parent!r} and "
                    f"actions[{i}] touches {path!r} inside it",
                    field="actions",
                )


def _entry(tree: pygit2.Tree | None, path: str) -> pygit2.Object | None:
    if tree is None:
        return None
    try:
        return tree[path]
    except KeyError:
        return None


def _change(
    path: str, kind: pb.ChangeType.ValueType, old: str = "", new: str = "", old_path: str = ""
) -> pb.ChangedPath:
    return pb.ChangedPath(
        path=path, change_type=kind, old_blob_id=old, new_blob_id=new, old_path=old_path
    )


def _plan(
    tree: pygit2.Tree | None, actions: list[pb.CommitAction], blobs: list[pygit2.Oid | None]
) -> _Plan:
    plan = _Plan()
    for action, blob in zip(actions, blobs, strict=True):
        path, kind = action.path, action.action
        old = _entry(tree, path)
        if isinstance(old, pygit2.Tree):
            if kind == A.ACTION_TYPE_CREATE or kind == A.ACTION_TYPE_MOVE:
                raise AlreadyExists(f"a directory exists at {path!r}", field="path")
            raise FailedPrecondition(f"{path!r} is a directory, not a file", field="path")
        if kind == A.ACTION_TYPE_DELETE:
            if old is None:
                raise FailedPrecondition(f"cannot delete {path!r}: no such file", field="path")
            plan.edits.append(treeedit.Edit(path))
            plan.changes.append(_change(path, pb.CHANGE_TYPE_DELETED, old=str(old.id)))
            continue
        if kind == A.ACTION_TYPE_MOVE:
            if old is not None:
                raise AlreadyExists(f"cannot move to {path!r}: the file exists", field="path")
            source = _entry(tree, action.previous_path)
            if source is None or isinstance(source, pygit2.Tree):
                raise FailedPrecondition(
                    f"cannot move {action.previous_path!r}: no such file", field="previous_path"
                )
            new_id = blob or source.id
            mode = action.mode or (
                source.filemode if source.filemode in _KEEPABLE else FileMode.BLOB
            )
            plan.edits += [treeedit.Edit(action.previous_path), treeedit.Edit(path, new_id, mode)]
            plan.changes.append(
                _change(
                    path, pb.CHANGE_TYPE_RENAMED, str(source.id), str(new_id), action.previous_path
                )
            )
            continue
        if kind == A.ACTION_TYPE_CREATE and old is not None:
            raise AlreadyExists(f"cannot create {path!r}: the file exists", field="path")
        if kind == A.ACTION_TYPE_UPDATE and old is None:
            raise FailedPrecondition(f"cannot update {path!r}: no such file", field="path")
        assert blob is not None
        keep = old is not None and old.filemode in _KEEPABLE
        mode = action.mode or (old.filemode if keep and old is not None else FileMode.BLOB)
        plan.edits.append(treeedit.Edit(path, blob, mode))
        if old is None:
            plan.changes.append(_change(path, pb.CHANGE_TYPE_ADDED, new=str(blob)))
        elif old.id != blob or old.filemode != mode:
            change = pb.CHANGE_TYPE_MODIFIED if keep else pb.CHANGE_TYPE_TYPE_CHANGED
            plan.changes.append(_change(path, change, str(old.id), str(blob)))
    plan.changes.sort(key=lambda c: c.path)
    return plan


def validate_read_paths(read_paths: list[str]) -> None:
    if len(read_paths) > MAX_READ_PATHS:
        raise InvalidArgument(f"at most {MAX_READ_PATHS} read_paths", field="read_paths")
    for i, path in enumerate(read_paths):
        paths.validate_path(path, f"read_paths[{i}]")


def precondition_paths(actions: list[pb.CommitAction], read_paths: list[str]) -> list[str]:
    """The paths a rebased commit needs unchanged: what it edits and what it read."""
    touched = [p for a in actions for p in (a.path, a.previous_path) if p]
    return list(dict.fromkeys([*touched, *read_paths]))


def _state(tree: pygit2.Tree | None, path: str) -> tuple[str, int] | None:
    entry = _entry(tree, path)
    return None if entry is None else (str(entry.id), entry.filemode)


def unchanged_since(
    repo: pygit2.Repository,
    base: str | None,
    head: str,
    watched: list[str],
    settled: Mapping[str, pygit2.Oid] | None = None,
) -> bool:
    """Whether every path of ``watched`` is the same entry at ``head`` as at ``base`` (a
    commit id; None = the empty tree: the paths must still be absent); False when ``base``
    is no commit of the repository. A path of ``settled`` (written, never read) that already
    holds the blob the commit writes counts as unchanged: the commit changes nothing there
    (two first commits of a repository both writing the same layout marker)."""
    base_tree: pygit2.Tree | None = None
    if base is not None:
        try:
            base_tree = peel_commit(repo.get(base), base).tree
        except (NotFound, InvalidArgument, ValueError):
            return False
    head_tree = peel_commit(repo.get(head), head).tree
    if base_tree is not None and base_tree.id == head_tree.id:
        return True
    settled = settled or {}

    def same(p: str) -> bool:
        if _state(base_tree, p) == _state(head_tree, p):
            return True
        entry = _entry(head_tree, p) if p in settled else None
        return entry is not None and entry.id == settled[p] and entry.filemode == FileMode.BLOB

    return all(same(p) for p in watched)


def _planned_at(expected: str, start: str | None) -> tuple[bool, str | None]:
    """(whether a rebase is possible, the commit the caller planned at: None = nothing).

    ``expected`` all zeros means the caller planned the branch's creation: from
    ``start_revision`` when given (only a full commit id says what it read; a name may have
    moved since), else on an empty tree."""
    if expected != ZERO_SHA:
        return True, expected
    if start is None:
        return True, None
    if len(start) == 40 and all(ch in "0123456789abcdef" for ch in start):
        return True, start
    return False, None


def _branch(repo: pygit2.Repository, requested: str) -> str:
    if requested:
        return names.branch_ref(requested)
    head = repo.references.get("HEAD")
    target = head.target if head is not None else None
    if not isinstance(target, str):
        raise InvalidArgument("branch is required (HEAD does not name a branch)", field="branch")
    return target


def _base(
    repo: pygit2.Repository, ref: str, head: str | None, start: str | None
) -> tuple[pygit2.Tree | None, list[pygit2.Oid]]:
    """The tree the actions apply to and the parents of the new commit."""
    if head is not None:
        commit = peel_commit(repo.get(head), head)
        return commit.tree, [commit.id]
    if start is not None:
        commit = resolve(repo, start, "start_revision")
        return commit.tree, [commit.id]
    if repo.head_is_unborn:
        return None, []
    short = ref[len(names.HEADS) :]
    raise FailedPrecondition(
        f"branch {short!r} does not exist; pass start_revision to create it", field="branch"
    )


def commit_files(
    store: RepositoryStore,
    outbox: Outbox,
    git: GitSettings,
    repo_id: RepositoryId,
    req: pb.CommitFilesRequest,
) -> pb.CommitFilesResponse:
    actions = list(req.actions)
    validate_actions(actions, git)
    read_paths = list(req.read_paths)
    validate_read_paths(read_paths)
    author = metadata.signature(req.author, "author")
    committer = (
        metadata.signature(req.committer, "committer") if req.HasField("committer") else author
    )
    message = metadata.compose_message(req.message, req.trailers)
    expected = names.expected_head(req.expected_head)
    start = names.revision(req.start_revision, "start_revision") if req.start_revision else None
    rebase, planned_at = (
        _planned_at(expected, start) if req.rebase and expected is not None else (False, None)
    )
    watched = precondition_paths(actions, read_paths) if rebase else []
    with store.write(repo_id) as repo:
        ref = _branch(repo, req.branch)
        blobs = [
            repo.create_blob(a.content)
            if a.action in (A.ACTION_TYPE_CREATE, A.ACTION_TYPE_UPDATE, A.ACTION_TYPE_UPSERT)
            or (a.action == A.ACTION_TYPE_MOVE and a.content)
            else None
            for a in actions
        ]
        read = set(read_paths)
        settled = {
            a.path: blob
            for a, blob in zip(actions, blobs, strict=True)
            if a.action == A.ACTION_TYPE_UPSERT and blob is not None and a.path not in read
        }
        for attempt in range(git.max_commit_retries + 1):
            head = cas.current(repo, ref)
            rebased_from = ""
            if expected is not None and (head or ZERO_SHA) != expected:
                if not (
                    rebase
                    and head is not None
                    and unchanged_since(repo, planned_at, head, watched, settled)
                ):
                    raise FailedPrecondition(
                        f"{ref} is at {head or ZERO_SHA}, not at expected_head {expected}"
                        + (" and a path the commit depends on changed" if rebase else ""),
                        field="expected_head",
                    )
                rebased_from = expected
            tree, parents = _base(repo, ref, head, start)
            plan = _plan(tree, actions, blobs)
            new_tree = treeedit.apply(repo, tree, plan.edits)
            sha = str(repo.create_commit(None, author, committer, message, new_tree, parents))
            event = events.ref_update(str(repo_id), ref, head, sha, req.trailers, plan.changes)
            try:
                update_ref(
                    repo,
                    outbox,
                    event,
                    expected=head,
                    new=sha,
                    fsync=store.fsync,
                    stale_after=git.stale_lock_seconds,
                )
            except cas.RefMoved as moved:
                if expected is not None and not rebase:
                    raise FailedPrecondition(
                        f"{ref} moved to {moved.current or ZERO_SHA} (expected_head {expected})",
                        field="expected_head",
                    ) from None
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311 - jitter
                continue
            return pb.CommitFilesResponse(
                commit_sha=sha,
                old_head=head or ZERO_SHA,
                branch=ref[len(names.HEADS) :],
                changed_paths=plan.changes,
                retries=attempt,
                rebased_from=rebased_from,
            )
    raise Aborted(
        f"{ref} kept moving; gave up after {git.max_commit_retries + 1} attempts, try again"
    )


def plan_actions(
    tree: pygit2.Tree | None, actions: list[pb.CommitAction], blobs: list[pygit2.Oid | None]
) -> tuple[list[treeedit.Edit], list[pb.ChangedPath]]:
    """The tree edits and changed paths of ``actions`` on ``tree`` (checks as in a commit)."""
    plan = _plan(tree, actions, blobs)
    return plan.edits, plan.changes


def write_blobs(repo: pygit2.Repository, actions: list[pb.CommitAction]) -> list[pygit2.Oid | None]:
    return [
        repo.create_blob(a.content)
        if a.action in (A.ACTION_TYPE_CREATE, A.ACTION_TYPE_UPDATE, A.ACTION_TYPE_UPSERT)
        or (a.action == A.ACTION_TYPE_MOVE and a.content)
        else None
        for a in actions
    ]
