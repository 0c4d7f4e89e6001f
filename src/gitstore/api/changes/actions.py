"""Change request use cases: open, read, review, comment, close, and the push paths (no
GraphQL here; merging is ``merging``).

Rights: reading a change request needs read access to its repository (a PRIVATE one's
requests are ``NOT_FOUND`` to others); opening, commenting, reviewing and closing need write
access (the right to push the branch anyway); merging is ``merging``. The author may not
review their own change request with APPROVE or REQUEST_CHANGES (a COMMENT is fine).

A change request records the source branch head and the merge base with the target when it
is opened and whenever the source branch moves (``source_moved``: every push and every API
commit to a branch updates the open change requests from it — the post-receive path and
``CatalogWriter.after_commit`` call it) — the ``updated`` event.
``git push -o change-request`` opens one (``open_from_push``) or, when one is open already,
updates its title.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.backends.metadata.base_changes import (
    ChangeRequest,
    ChangeRequestNote,
    ChangeRequestStatus,
    change_request_cursor,
)
from gitstore.domain.changes import ReviewVerdict
from gitstore.domain.errors import InvalidArgument, NotFound, PermissionDenied

from ..catalog.access import readable_repository
from ..catalog.writes.access import maintainable, writable_repository
from ..graphql.relay import Connection
from ..identity.principal import Principal
from ..namespaces.actions import is_uuid
from . import cleanup, notify
from .errors import ChangeRefused
from .refs import HEADS, branch_head

if TYPE_CHECKING:
    from ..services import ApiServices


__all__ = ["HEADS", "ChangeRequestView", "branch_head"]


@dataclass(frozen=True, slots=True)
class ChangeRequestView:
    """A change request with its repository (what resolvers need for live fields)."""

    record: RepositoryRecord
    cr: ChangeRequest


async def _heads(
    services: ApiServices, record: RepositoryRecord, source: str, target: str
) -> tuple[str, str]:
    """(source head, merge base with the target); ``NOT_FOUND`` naming a missing branch."""
    head = await branch_head(services, record, source)
    if head is None:
        raise NotFound(f"branch {source!r} does not exist", field="sourceBranch")
    target_head = await branch_head(services, record, target)
    if target_head is None:
        raise NotFound(f"branch {target!r} does not exist", field="targetBranch")
    found = await services.git().merge_base(record.repository_id, target_head, head)
    return head, found.merge_base


async def create(
    services: ApiServices,
    principal: Principal,
    repository: str,
    source_branch: str,
    target_branch: str | None,
    title: str,
    description: str = "",
) -> ChangeRequestView:
    record = await writable_repository(services.store, principal, repository)
    target = target_branch or record.default_branch
    if source_branch == target:
        raise InvalidArgument(f"source and target branch are both {target!r}", field="targetBranch")
    head, base = await _heads(services, record, source_branch, target)
    cr = await services.store.create_change_request(
        record.id,
        source_branch=source_branch,
        target_branch=target,
        title=title,
        description=description,
        author_id=principal.user_id,
        author_username=principal.username,
        head_sha=head,
        base_sha=base,
    )
    await notify.notify(services, notify.OPENED, record, cr, principal.username)
    return ChangeRequestView(record, cr)


async def visible(
    services: ApiServices, principal: Principal | None, change_request_id: str
) -> ChangeRequestView:
    """The change request if the caller may read its repository; ``NOT_FOUND`` otherwise."""
    missing = NotFound(f"change request {change_request_id!r} not found", field="id")
    cr = (
        await services.store.get_change_request(change_request_id)
        if is_uuid(change_request_id)
        else None
    )
    record = await services.store.get_repository(cr.repository_uuid) if cr else None
    if cr is None or record is None:
        raise missing
    try:
        await readable_repository(services.store, principal, record.repository_id, draft=True)
    except (NotFound, PermissionDenied):
        raise missing from None
    if cr.state is ChangeRequestStatus.OPEN and cr.merge_sha:
        cr = await cleanup.finish_merge(services, record, cr)  # a merge interrupted by a crash
    return ChangeRequestView(record, cr)


async def writable(
    services: ApiServices, principal: Principal, change_request_id: str
) -> ChangeRequestView:
    view = await visible(services, principal, change_request_id)
    await writable_repository(services.store, principal, view.record.repository_id)
    return view


async def listing(
    services: ApiServices,
    principal: Principal | None,
    repository: str,
    *,
    state: ChangeRequestStatus | None,
    first: int,
    after: str | None,
) -> Connection[ChangeRequestView]:
    store = services.store
    record = await readable_repository(store, principal, repository, draft=True)
    page = await store.list_change_requests(record.id, state=state, first=first, after=after)
    views = [ChangeRequestView(record, cr) for cr in page.items]
    return Connection.of(
        views,
        lambda v: change_request_cursor(v.cr.number),
        total_count=page.total_count,
        has_next_page=page.has_next_page,
        after=after,
    )


async def review(
    services: ApiServices,
    principal: Principal,
    change_request_id: str,
    verdict: ReviewVerdict,
    body: str = "",
) -> tuple[ChangeRequestView, ChangeRequestNote]:
    view = await writable(services, principal, change_request_id)
    cr = view.cr
    if cr.state is not ChangeRequestStatus.OPEN:
        raise ChangeRefused("NOT_MERGEABLE", f"change request !{cr.number} is {cr.state}")
    if verdict is not ReviewVerdict.COMMENT and principal.user_id == cr.author_id:
        raise PermissionDenied(
            "the author cannot approve or request changes on their own change request",
            field="verdict",
        )
    note = await services.store.add_change_request_note(
        cr.id,
        author_id=principal.user_id,
        author_username=principal.username,
        verdict=verdict.value,
        body=body,
        head_sha=cr.head_sha,
    )
    return view, note


async def comment(
    services: ApiServices, principal: Principal, change_request_id: str, body: str
) -> tuple[ChangeRequestView, ChangeRequestNote]:
    view = await writable(services, principal, change_request_id)
    note = await services.store.add_change_request_note(
        view.cr.id,
        author_id=principal.user_id,
        author_username=principal.username,
        verdict="",
        body=body,
        head_sha=view.cr.head_sha,
    )
    return view, note


async def close(
    services: ApiServices, principal: Principal, change_request_id: str
) -> ChangeRequestView:
    view = await writable(services, principal, change_request_id)
    cr = await services.store.update_change_request(view.cr.id, state=ChangeRequestStatus.CLOSED)
    await notify.notify(services, notify.CLOSED, view.record, cr, principal.username)
    await cleanup.delete_proposal_branch(services, view.record, cr)
    return ChangeRequestView(view.record, cr)


async def set_required_approvals(
    services: ApiServices, principal: Principal, repository: str, approvals: int
) -> RepositoryRecord:
    record = await maintainable(
        services.store, principal, repository, what="change the merge approval rule"
    )
    await services.store.set_required_approvals(record.id, approvals)
    await services.store.append_audit(
        principal.username,
        "change_request.rule",
        record.repository_id,
        {"requiredApprovals": str(approvals)},
    )
    return record


async def source_moved(
    services: ApiServices, record: RepositoryRecord, branch: str, actor: str
) -> list[ChangeRequest]:
    """Update the open change requests from ``branch`` to its new head (``updated``)."""
    store = services.store
    page = await store.list_change_requests(
        record.id, state=ChangeRequestStatus.OPEN, source_branch=branch, first=100
    )
    updated: list[ChangeRequest] = []
    for cr in page.items:
        head = await branch_head(services, record, branch)
        target = await branch_head(services, record, cr.target_branch)
        if head is None or head == cr.head_sha:
            continue
        base = (
            (await services.git().merge_base(record.repository_id, target, head)).merge_base
            if target
            else cr.base_sha
        )
        fresh = await store.update_change_request(cr.id, head_sha=head, base_sha=base)
        await notify.notify(services, notify.UPDATED, record, fresh, actor)
        updated.append(fresh)
    return updated


async def open_from_push(
    services: ApiServices, record: RepositoryRecord, branch: str, username: str, title: str
) -> tuple[ChangeRequest, bool]:
    """Open a change request from ``branch`` into the default branch for a pusher, or find
    the open one (retitled when ``title`` is given). (change request, whether it is new)."""
    store = services.store
    user = await store.get_user_by_username(username)
    if user is None:
        raise NotFound(f"user {username!r} not found", field="username")
    found = await store.find_open_change_request(record.id, branch, record.default_branch)
    if found is not None:
        if title and title != found.title:
            found = await store.update_change_request(found.id, title=title)
        return found, False
    head, base = await _heads(services, record, branch, record.default_branch)
    cr = await store.create_change_request(
        record.id,
        source_branch=branch,
        target_branch=record.default_branch,
        title=title or branch,
        description="",
        author_id=user.id,
        author_username=user.username,
        head_sha=head,
        base_sha=base,
    )
    await notify.notify(services, notify.OPENED, record, cr, username)
    return cr, True
