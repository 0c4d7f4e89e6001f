"""Server-side merges for change requests: MergeBase, WriteCommit, UpdateBranch.

A merge is three calls, so the API can validate the result between writing it and
publishing it (the same content checks as a push, docs/change-requests.md):

* ``merge_base``: git's best common ancestor of two revisions, and whether the first is an
  ancestor of the second (a fast-forward is possible);
* ``write_commit``: a commit object whose tree is ``base_revision``'s tree with the actions
  applied (the tree edits of ``CommitFiles``: only the changed paths are rewritten), with
  any parents (a merge commit has two); no ref moves, so nothing is announced and an
  abandoned commit is garbage for housekeeping;
* ``update_branch``: move an existing branch from ``expected_head`` to a descendant commit
  through ``refupdate.update_ref`` (outbox intent, compare-and-swap, committed): exactly one
  ref-update event with the changed paths between the two trees, as a push of that commit
  would announce, so projection, statuses and audit follow the normal path. A stale
  ``expected_head`` (or a race lost) is ``FAILED_PRECONDITION``; a target that does not
  descend from it is ``FAILED_PRECONDITION`` too (no history is ever rewritten).
"""

from __future__ import annotations

import pygit2

from gitstore.config import GitSettings
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import cas, commits, events, metadata, names, reads, treeedit
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.refupdate import update_ref
from gitstore.gitservice.revisions import resolve
from gitstore.gitservice.storage import RepositoryStore

MAX_PARENTS = 8


def merge_base(
    store: RepositoryStore, repo_id: RepositoryId, req: pb.MergeBaseRequest
) -> pb.MergeBaseResponse:
    with store.read(repo_id) as repo:
        left = resolve(repo, req.left, "left")
        right = resolve(repo, req.right, "right")
        base = repo.merge_base(left.id, right.id)
        return pb.MergeBaseResponse(
            merge_base=str(base) if base is not None else "",
            left_sha=str(left.id),
            right_sha=str(right.id),
            left_is_ancestor=base is not None and base == left.id,
        )


def write_commit(
    store: RepositoryStore, git: GitSettings, repo_id: RepositoryId, req: pb.WriteCommitRequest
) -> pb.WriteCommitResponse:
    actions = list(req.actions)
    if actions:
        commits.validate_actions(actions, git)
    if not 1 <= len(req.parent_revisions) <= MAX_PARENTS:
        raise InvalidArgument(
            f"parent_revisions must name 1 to {MAX_PARENTS} commits", field="parent_revisions"
        )
    author = metadata.signature(req.author, "author")
    committer = (
        metadata.signature(req.committer, "committer") if req.HasField("committer") else author
    )
    message = metadata.compose_message(req.message, req.trailers)
    with store.write(repo_id) as repo:
        base = resolve(repo, req.base_revision, "base_revision")
        parents = [
            resolve(repo, p, f"parent_revisions[{i}]").id
            for i, p in enumerate(req.parent_revisions)
        ]
        blobs = commits.write_blobs(repo, actions)
        edits, changes = commits.plan_actions(base.tree, actions, blobs)
        tree = treeedit.apply(repo, base.tree, edits)
        sha = repo.create_commit(None, author, committer, message, tree, parents)
        return pb.WriteCommitResponse(
            commit_sha=str(sha), tree_sha=str(tree), changed_paths=changes
        )


def update_branch(
    store: RepositoryStore,
    outbox: Outbox,
    git: GitSettings,
    repo_id: RepositoryId,
    req: pb.UpdateBranchRequest,
) -> pb.UpdateBranchResponse:
    ref = names.branch_ref(req.branch)
    expected = names.expected_head(req.expected_head)
    if expected is None or expected == names.ZERO_SHA:
        raise InvalidArgument(
            "expected_head must be the branch's current head", field="expected_head"
        )
    metadata.trailer_pairs(req.trailers)
    with store.write(repo_id) as repo:
        head = cas.current(repo, ref)
        if head is None:
            raise NotFound(f"branch {req.branch!r} not found", field="branch")
        if head != expected:
            raise FailedPrecondition(
                f"branch {req.branch!r} is at {head}, not at expected_head {expected}",
                field="expected_head",
            )
        new = resolve(repo, req.new_target, "new_target")
        old = repo.get(head)
        assert isinstance(old, pygit2.Commit)
        if new.id != old.id and not repo.descendant_of(new.id, old.id):
            raise FailedPrecondition(
                f"{new.id} does not descend from {head}: not a fast-forward", field="new_target"
            )
        changes = list(reads.diff_changes(old.tree.diff_to_tree(new.tree)))
        event = events.ref_update(str(repo_id), ref, head, str(new.id), req.trailers, changes)
        try:
            update_ref(
                repo,
                outbox,
                event,
                expected=head,
                new=str(new.id),
                fsync=store.fsync,
                stale_after=git.stale_lock_seconds,
            )
        except cas.RefMoved as moved:
            raise FailedPrecondition(
                f"branch {req.branch!r} moved to {moved.current or names.ZERO_SHA}",
                field="expected_head",
            ) from None
        return pb.UpdateBranchResponse(old_head=head, new_head=str(new.id), changed_paths=changes)
