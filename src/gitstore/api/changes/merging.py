"""Merging a change request on the server, and what a reviewer sees before (the semantic
diff, the head's validation, the mergeability with its conflicts).

``merge(id, expected_head, strategy)``, in order; nothing moves unless every step passes:

1. the caller may write the repository; the request is OPEN (else ``NOT_MERGEABLE``);
2. the source branch is still at ``expected_head`` (else ``STALE_HEAD``: review again);
3. into the default branch, the repository's approval rule holds (``APPROVALS_REQUIRED``:
   N approvals from maintainers, latest verdict per reviewer, never the author's own);
4. the candidate commit: FAST_FORWARD takes the source head (possible only when the target
   head is an ancestor of it, else ``NOT_MERGEABLE``); MERGE and SQUASH merge the manifests
   three-way (``domain.changes.merge_snapshots``; ``CONFLICT`` naming each resource and
   field) and write the result with ``WriteCommit`` on the target head — MERGE with the
   source head as second parent, SQUASH with the target head only;
5. the candidate is validated as a push to the target would be (``validation``): schema,
   references, kinds, ref policy — ``VALIDATION_FAILED`` with each file and rule;
6. ``UpdateBranch`` moves the target from the head the merge was computed on to the
   candidate (a target that moved meanwhile is ``ABORTED``: merge again); the git service
   announces the ref update like a push (worker projection, statuses), the API writes the
   ``ref.update`` audit entry (operation ``mergeChangeRequest``), the request becomes MERGED
   (compare-and-swap on its recorded head) and ``change_request.merged`` is notified.

Before step 6 the candidate is recorded on the OPEN request (``merge_sha``, ``merged_by``: the
merge's intent), so a crash between the target's move and MERGED is finished later
(``cleanup.finish_merge``: the next read, a retried merge, the sweeper); after it, a proposal
branch is deleted (``cleanup.delete_proposal_branch``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.backends.metadata.base_changes import ChangeRequest, ChangeRequestStatus
from gitstore.domain.changes import (
    Conflict,
    MergeResult,
    MergeStrategy,
    ResourceChange,
    Review,
    ReviewVerdict,
    approvals_missing,
    merge_snapshots,
    semantic_diff,
)
from gitstore.domain.content import KindRegistry
from gitstore.domain.errors import Aborted, FailedPrecondition
from gitstore.domain.publishing import (
    PolicyFacts,
    PushedCommit,
    RefPush,
    RepositoryPolicy,
    Violation,
    ref_violations,
)
from gitstore.git.v1 import git_service_pb2 as pb

from ..identity.principal import ALL_SCOPES, Principal
from ..namespaces.permissions import standing_of
from ..refaudit import audit_ref_update
from . import cleanup, notify, trees
from .actions import HEADS, ChangeRequestView, branch_head, writable
from .errors import ChangeRefused
from .validation import check_candidate

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.changes")
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Sides:
    source_head: str
    target_head: str
    merge_base: str
    fast_forward: bool  # the target head is an ancestor of the source head


@dataclass(slots=True)
class Mergeability:
    mergeable: bool
    fast_forward: bool
    conflicts: list[Conflict] = field(default_factory=list)
    reason: str = ""
    result: MergeResult | None = None


@dataclass(frozen=True, slots=True)
class Approvals:
    required: int
    missing: int


async def sides(services: ApiServices, record: RepositoryRecord, cr: ChangeRequest) -> Sides:
    source = await branch_head(services, record, cr.source_branch)
    target = await branch_head(services, record, cr.target_branch)
    if source is None or target is None:
        gone = cr.source_branch if source is None else cr.target_branch
        raise ChangeRefused("NOT_MERGEABLE", f"branch {gone!r} does not exist any more")
    found = await services.git().merge_base(record.repository_id, target, source)
    return Sides(source, target, found.merge_base, found.left_is_ancestor)


async def _registry_and_limit(
    services: ApiServices, record: RepositoryRecord, revision: str
) -> tuple[KindRegistry, int]:
    registry = await services.kinds().registry(record.repository_id, revision)
    return registry, services.settings.content.max_manifest_bytes


async def span(services: ApiServices, view: ChangeRequestView) -> tuple[str, str]:
    """(merge base, source head) the request is about: live while it is OPEN (and both
    branches exist), else what was recorded last (a merged request keeps its diff)."""
    record, cr = view.record, view.cr
    if cr.state is not ChangeRequestStatus.OPEN:
        return cr.base_sha, cr.head_sha
    source = await branch_head(services, record, cr.source_branch)
    target = await branch_head(services, record, cr.target_branch)
    if source is None or target is None:
        return cr.base_sha, cr.head_sha
    found = await services.git().merge_base(record.repository_id, target, source)
    return found.merge_base, source


async def diff(services: ApiServices, view: ChangeRequestView) -> list[ResourceChange]:
    """What the change request brings: merge base -> source head, per resource and field."""
    record = view.record
    base, source = await span(services, view)
    repo = record.repository_id
    paths = await trees.changed_paths(services.git(), repo, base, source)
    registry, limit = await _registry_and_limit(services, record, source)
    old, new = await trees.snapshots(services.git(), repo, [base, source], paths, registry, limit)
    return semantic_diff(old, new)


async def head_validation(
    services: ApiServices, view: ChangeRequestView
) -> tuple[str, list[Violation], int]:
    """The source head checked as a push onto the merge base: (head, violations, files)."""
    record, cr = view.record, view.cr
    base, head = await span(services, view)
    violations, validated = await check_candidate(
        services, record.repository_id, HEADS + cr.target_branch, base, head
    )
    return head, violations, validated


async def mergeability(services: ApiServices, view: ChangeRequestView) -> Mergeability:
    record, cr = view.record, view.cr
    if cr.state is not ChangeRequestStatus.OPEN:
        return Mergeability(False, False, reason=f"the change request is {cr.state}")
    try:
        s = await sides(services, record, cr)
    except ChangeRefused as exc:
        return Mergeability(False, False, reason=exc.message)
    result = await _merge_files(services, record, s)
    if s.merge_base == s.source_head:
        return Mergeability(False, False, reason="nothing to merge", result=result)
    if result.conflicts:
        return Mergeability(False, s.fast_forward, result.conflicts, "conflicts", result)
    return Mergeability(True, s.fast_forward, result=result)


async def _merge_files(services: ApiServices, record: RepositoryRecord, s: Sides) -> MergeResult:
    git, repo = services.git(), record.repository_id
    paths = await trees.changed_paths(git, repo, s.merge_base, s.target_head)
    paths |= await trees.changed_paths(git, repo, s.merge_base, s.source_head)
    registry, limit = await _registry_and_limit(services, record, s.source_head)
    base, target, source = await trees.snapshots(
        git, repo, [s.merge_base, s.target_head, s.source_head], paths, registry, limit
    )
    return merge_snapshots(base, target, source)


async def approvals(services: ApiServices, view: ChangeRequestView) -> Approvals:
    record, cr = view.record, view.cr
    store = services.store
    required = await store.get_required_approvals(record.id)
    if required == 0 or cr.target_branch != record.default_branch:
        return Approvals(0, 0)
    notes = await store.list_change_request_notes(cr.id)
    reviews = [
        Review(n.author_id, ReviewVerdict(n.verdict), n.created_at.timestamp())
        for n in notes
        if n.verdict
    ]
    namespace = await store.get_namespace(record.namespace_id)
    maintainers: set[str] = set()
    for reviewer in {r.reviewer for r in reviews}:
        user = await store.get_user(reviewer)
        if user is None or user.disabled or namespace is None:
            continue
        who = Principal(user.id, user.username, user.is_admin, ALL_SCOPES, "git", "")
        if (await standing_of(store, who, namespace)).can_administer():
            maintainers.add(user.id)
    return Approvals(required, approvals_missing(reviews, cr.author_id, maintainers, required))


def _conflict_message(conflicts: list[Conflict]) -> str:
    lines = [c.message for c in conflicts[:MAX_LISTED]]
    more = len(conflicts) - len(lines)
    return (
        f"{len(conflicts)} conflict(s): "
        + "; ".join(lines)
        + (f"; and {more} more" if more else "")
    )


def _violation_message(violations: list[Violation]) -> str:
    lines = [
        f"{v.path or v.ref}{' ' + v.field if v.field else ''}: {v.message} ({v.rule})"
        for v in violations[:MAX_LISTED]
    ]
    more = len(violations) - len(lines)
    return (
        "the merged result is not valid: "
        + "; ".join(lines)
        + (f"; and {more} more" if more else "")
    )


async def merge(
    services: ApiServices,
    principal: Principal,
    change_request_id: str,
    expected_head: str,
    strategy: MergeStrategy,
    *,
    request_id: str = "",
) -> ChangeRequestView:
    view = await writable(services, principal, change_request_id)
    record, cr = view.record, view.cr
    if cr.state is not ChangeRequestStatus.OPEN:
        raise ChangeRefused(
            "NOT_MERGEABLE", f"change request !{cr.number} is {cr.state}", field="id"
        )
    s = await sides(services, record, cr)
    if s.source_head != expected_head:
        raise ChangeRefused(
            "STALE_HEAD",
            f"{cr.source_branch} is at {s.source_head}, not at expectedHeadSha {expected_head}",
            field="expectedHeadSha",
        )
    needed = await approvals(services, view)
    if needed.missing:
        raise ChangeRefused(
            "APPROVALS_REQUIRED",
            f"merging into {cr.target_branch} needs {needed.required} maintainer approval(s)"
            f" (not the author's own); {needed.missing} more needed",
        )
    if s.merge_base == s.source_head:
        raise ChangeRefused(
            "NOT_MERGEABLE", f"{cr.target_branch} already contains {cr.source_branch}"
        )
    trailers = pb.Trailers(actor=principal.username, request_id=request_id)
    if strategy is MergeStrategy.FAST_FORWARD:
        if not s.fast_forward:
            raise ChangeRefused(
                "NOT_MERGEABLE",
                f"{cr.target_branch} has moved on since {cr.source_branch} branched off: a"
                " fast-forward is not possible; merge with MERGE or SQUASH",
                field="strategy",
            )
        candidate = s.source_head
    else:
        candidate = await _write_merge(services, record, cr, s, strategy, principal, trailers)
    await _validate(services, record, cr, s.target_head, candidate)
    await _record_intent(services, cr, candidate, principal.username)
    try:
        await services.git().update_branch(
            pb.UpdateBranchRequest(
                repository_id=record.repository_id,
                branch=cr.target_branch,
                expected_head=s.target_head,
                new_target=candidate,
                trailers=trailers,
            )
        )
    except FailedPrecondition as exc:
        await _record_intent(services, cr, "", "")  # nothing moved: no merge to finish
        raise Aborted(
            f"{cr.target_branch} moved while merging; merge again ({exc.message})"
        ) from None
    await audit_ref_update(
        services.store,
        principal.username,
        record.repository_id,
        HEADS + cr.target_branch,
        s.target_head,
        candidate,
        transport="api",
        operation="mergeChangeRequest",
        correlation_id=request_id,
    )
    if cr.target_branch == record.default_branch:
        services.store_schemas.changed(record)
    try:
        merged = await services.store.update_change_request(
            cr.id,
            head_sha=s.source_head,
            base_sha=s.merge_base,
            state=ChangeRequestStatus.MERGED,
            merge_sha=candidate,
            merged_by=principal.username,
        )
    except FailedPrecondition as exc:
        now = await services.store.get_change_request(cr.id)
        finished = now is not None and now.state is ChangeRequestStatus.MERGED
        if now is not None and finished and now.merge_sha == candidate:
            return ChangeRequestView(record, now)  # a reader finished it first (finish_merge)
        # The target has moved (durably); the request was closed meanwhile. Say so.
        log.warning("merged %s into %s but: %s", cr.id, cr.target_branch, exc.message)
        raise ChangeRefused(
            "NOT_MERGEABLE",
            f"{cr.target_branch} now is {candidate}, but change request !{cr.number} was"
            f" closed meanwhile ({exc.message})",
        ) from None
    await notify.notify(services, notify.MERGED, record, merged, principal.username)
    await cleanup.delete_proposal_branch(services, record, merged)
    return ChangeRequestView(record, merged)


async def _record_intent(services: ApiServices, cr: ChangeRequest, candidate: str, by: str) -> None:
    """Record (or clear) the candidate on the OPEN request before the target moves; a
    request closed meanwhile refuses the merge before anything moved."""
    try:
        await services.store.update_change_request(cr.id, merge_sha=candidate, merged_by=by)
    except FailedPrecondition as exc:
        if candidate:
            raise ChangeRefused(
                "NOT_MERGEABLE", f"change request !{cr.number}: {exc.message}", field="id"
            ) from None


async def _write_merge(
    services: ApiServices,
    record: RepositoryRecord,
    cr: ChangeRequest,
    s: Sides,
    strategy: MergeStrategy,
    principal: Principal,
    trailers: pb.Trailers,
) -> str:
    result = await _merge_files(services, record, s)
    if result.conflicts:
        raise ChangeRefused("CONFLICT", _conflict_message(result.conflicts))
    actions = [
        pb.CommitAction(action=pb.ACTION_TYPE_DELETE, path=path)
        if content is None
        else pb.CommitAction(action=pb.ACTION_TYPE_UPSERT, path=path, content=content)
        for path, content in sorted(result.actions.items())
    ]
    if strategy is MergeStrategy.SQUASH and not actions:
        raise ChangeRefused("NOT_MERGEABLE", "the change request changes nothing on the target")
    parents = [s.target_head] + ([s.source_head] if strategy is MergeStrategy.MERGE else [])
    if strategy is MergeStrategy.MERGE:
        message = f"Merge change request !{cr.number} from {cr.source_branch}\n\n{cr.title}"
    else:
        message = f"{cr.title} (!{cr.number})" + (f"\n\n{cr.description}" if cr.description else "")
    who = pb.Signature(name=principal.username, email=f"{principal.username}@users.gitstore.local")
    written = await services.git().write_commit(
        pb.WriteCommitRequest(
            repository_id=record.repository_id,
            base_revision=s.target_head,
            parent_revisions=parents,
            author=who,
            message=message,
            trailers=trailers,
            actions=actions,
        )
    )
    return written.commit_sha


async def _validate(
    services: ApiServices, record: RepositoryRecord, cr: ChangeRequest, old: str, new: str
) -> None:
    ref = HEADS + cr.target_branch
    violations, _ = await check_candidate(services, record.repository_id, ref, old, new)
    policy = RepositoryPolicy(
        record.default_branch, tuple(record.release_patterns), record.require_signed_commits
    )
    push = RefPush(
        ref=ref, old=old, new=new, peeled=new, commits=(PushedCommit(new, (old,), "none", ""),)
    )
    violations = ref_violations(push, policy, PolicyFacts()) + violations
    if violations:
        raise ChangeRefused("VALIDATION_FAILED", _violation_message(violations))
