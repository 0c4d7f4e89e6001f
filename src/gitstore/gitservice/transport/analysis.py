"""What a push does, for the API's pre-receive decision: one ``PushedRef`` per ref update.

Computed on a handle that sees the quarantine (``quarantine.open_with``), before git moves
any ref:

* ``new_type``: ``commit``, ``tag`` (annotated tag object), another object type's name, or
  ``""`` for a deletion; ``peeled``: the commit ``new`` peels to (``""`` if none).
* ``fast_forward``: ``old`` is zero, or ``old`` and ``new`` peel to commits and ``old``'s is
  ``new``'s or one of its ancestors (libgit2 ``descendant_of``). A deletion is not.
* ``commits``: the commits reachable from ``new`` that no existing ref reaches — a revision
  walk from the peeled ``new`` hiding every ref's peeled commit (the refs as they are before
  the push) — oldest first (topological, reversed), at most ``max_commits``; ``truncated``
  says there were more. Each with its parents, tree and signature status (``signatures``).
* for an annotated tag: ``tag_signature`` / ``tag_signer_fingerprint``.
"""

from __future__ import annotations

import pygit2
from pygit2.enums import SortMode

from gitstore.domain.events import ZERO_SHA
from gitstore.gitservice.transport import signatures
from gitstore.hook.v1 import hook_service_pb2 as hook_pb


def commit_of(repo: pygit2.Repository, sha: str) -> pygit2.Commit | None:
    if sha == ZERO_SHA:
        return None
    obj = repo.get(sha)
    if obj is None:
        return None
    try:
        commit = obj.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError):
        return None
    return commit if isinstance(commit, pygit2.Commit) else None


def existing_tips(repo: pygit2.Repository) -> list[pygit2.Oid]:
    """The peeled commit of every ref (before the push)."""
    tips: dict[pygit2.Oid, None] = {}
    for name in repo.references:
        ref = repo.references.get(name)
        if ref is None or not isinstance(ref.target, pygit2.Oid):
            continue
        commit = commit_of(repo, str(ref.target))
        if commit is not None:
            tips[commit.id] = None
    return list(tips)


def pushed_commits(
    repo: pygit2.Repository, tip: pygit2.Oid, hidden: list[pygit2.Oid], max_commits: int
) -> tuple[list[hook_pb.PushedCommit], bool]:
    walker = repo.walk(tip, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    for oid in hidden:
        walker.hide(oid)
    found: list[hook_pb.PushedCommit] = []
    for commit in walker:
        if len(found) == max_commits:
            return found, True
        status = signatures.commit_status(commit)
        found.append(
            hook_pb.PushedCommit(
                sha=str(commit.id),
                parent_shas=[str(p) for p in commit.parent_ids],
                tree_sha=str(commit.tree_id),
                signature=status.signature,
                signer_fingerprint=status.fingerprint,
            )
        )
    return found, False


def pushed_ref(
    repo: pygit2.Repository,
    ref: str,
    old: str,
    new: str,
    hidden: list[pygit2.Oid],
    max_commits: int,
) -> hook_pb.PushedRef:
    result = hook_pb.PushedRef(update=hook_pb.RefUpdate(ref=ref, old=old, new=new))
    if new == ZERO_SHA:
        return result
    obj = repo.get(new)
    if obj is None:  # pragma: no cover - git checked connectivity before the hook
        return result
    result.new_type = obj.type_str
    if isinstance(obj, pygit2.Tag):
        status = signatures.tag_status(obj)
        result.tag_signature = status.signature
        result.tag_signer_fingerprint = status.fingerprint
    commit = commit_of(repo, new)
    if commit is None:
        result.fast_forward = old == ZERO_SHA
        return result
    result.peeled = str(commit.id)
    if old == ZERO_SHA:
        result.fast_forward = True
    else:
        before = commit_of(repo, old)
        result.fast_forward = before is not None and (
            before.id == commit.id or bool(repo.descendant_of(commit.id, before.id))
        )
    commits, truncated = pushed_commits(repo, commit.id, hidden, max_commits)
    result.commits.extend(commits)
    result.truncated = truncated
    return result
