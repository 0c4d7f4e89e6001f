"""Answers a write gives without having seen its own commit land.

A write whose ``CommitFiles`` call failed without a definite answer looks for its commit
(``recover``: its ``Request-Id`` trailer among the last ``RECOVERY_DEPTH`` commits); a write
that took over the idempotency key of an owner that died looks for that owner's commit
(``landed_with_key``: ``Idempotency-Key`` and ``Actor`` trailers, newest first, back to the
key's first claim) and answers as the owner would have (``answer_for``: the plan made again
at the commit's parent). ``plan_result`` is the answer of a plan, committed or not.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from gitstore.domain.errors import GitStoreError, NotFound
from gitstore.git.v1 import git_service_pb2 as pb

from .git import BranchView
from .idempotency import IdempotencyGate
from .plan import Plan
from .result import Caller, WriteResult, git_blob_id

log = logging.getLogger("gitstore.api.catalog.writes")

RECOVERY_DEPTH = 50
KEY_SEARCH_DEPTH = 1_000  # commits searched for the key of an owner that died
KEY_SEARCH_SKEW = 300.0  # seconds of clock difference allowed between stores and git

Planner = Callable[[BranchView, str | None], Awaitable[Plan]]


async def landed_with_key(view: BranchView, caller: Caller, gate: IdempotencyGate) -> str | None:
    """The commit on the branch made with this key by this caller (``Idempotency-Key``
    and ``Actor`` trailers), if the dead owner whose claim ``gate`` took over got that
    far. Searched newest first among the last ``KEY_SEARCH_DEPTH`` commits, stopping at
    commits older than the key's first claim (less ``KEY_SEARCH_SKEW`` for clocks)."""
    taken = gate.took_over
    if taken is None:
        return None
    cutoff = taken.created_at.timestamp() - KEY_SEARCH_SKEW
    request = pb.CommitLogRequest(
        repository_id=view.repository_id, revision=view.ref, limit=KEY_SEARCH_DEPTH
    )
    try:
        async for info in view.git.commit_log(request):
            trailers = info.trailers
            if (
                trailers.get("Idempotency-Key") == gate.key
                and trailers.get("Actor") == caller.principal.username
            ):
                log.warning(
                    "idempotency key %r: found commit %s of the owner that died",
                    gate.key,
                    info.sha,
                )
                return info.sha
            if info.committer.time < cutoff:
                break
    except NotFound:  # the branch does not exist: nothing landed on it
        return None
    return None


async def answer_for(view: BranchView, planner: Planner, sha: str) -> WriteResult:
    """The answer of a write whose commit ``sha`` landed but was never answered: the plan
    made again at the commit's parent (what the commit changed, as the dead owner would
    have answered). Every path it depends on was the same there as where it was planned
    (the commit landed under that precondition)."""
    info = await view.commit_info(sha)
    parent = info.parent_shas[0] if info.parent_shas else None
    try:
        plan = await planner(view, parent)
    except GitStoreError:
        log.exception("could not re-plan the answer of commit %s", sha)
        plan = Plan()
    blobs = {a.path: git_blob_id(a.content) for a in plan.actions if a.content}
    return replace(plan_result(view, plan, sha, committed=True, blobs=blobs), replayed=True)


async def recover(view: BranchView, request_id: str) -> str | None:
    """The commit this request made, if it landed although its answer was lost."""
    if not request_id:
        return None
    try:
        recent = await view.log(view.ref, limit=RECOVERY_DEPTH)
    except GitStoreError:
        return None
    return next((i.sha for i in recent if i.trailers.get("Request-Id") == request_id), None)


def plan_result(
    view: BranchView,
    plan: Plan,
    commit: str | None,
    *,
    committed: bool,
    dry_run: bool = False,
    blobs: Mapping[str, str] | None = None,
) -> WriteResult:
    documents = []
    for value in plan.documents:
        blob = (blobs or {}).get(value["path"])
        documents.append({**value, "blobId": blob} if blob else value)
    return WriteResult(
        repository=view.repository_id,
        branch=view.branch,
        commit=commit,
        committed=committed,
        changes=tuple(plan.changes),
        documents=tuple(documents),
        dry_run=dry_run,
    )
