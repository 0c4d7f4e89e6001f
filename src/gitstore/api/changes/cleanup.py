"""What a change request leaves behind, cleaned up — also after a crash.

**Proposal branches.** A source branch under ``proposals/`` (what the proposing controllers
write, docs/controllers.md) belongs to its change request: once the request is MERGED or
CLOSED the branch is deleted with ``DeleteBranch`` compare-and-swapped on the head the
request recorded, so commits pushed after the close are never lost (the branch is then
kept). Other branches are people's and stay. The state change comes first and the delete
second; a crash between them leaves a finished request with its branch, which the sweeper
(:func:`sweep_repository`, run by :class:`ChangeSweeper` in every API process) deletes: for
each ``proposals/`` branch, when no request from it is OPEN and the newest one is finished
at exactly the branch's head. Deleting is idempotent (a branch already gone is done).

**Interrupted merges.** ``merge`` records its candidate (``merge_sha``, ``merged_by``) on the
still-OPEN request *before* it moves the target. A crash after the move but before the
request became MERGED leaves an OPEN request with that intent; :func:`finish_merge` (run on
the next read of the request, by a retried merge and by the sweeper) sees the target holds
the candidate (or the source head) and finishes: MERGED, ``change_request.merged`` notified,
the proposal branch deleted. An intent whose candidate never landed changes nothing (the next
merge records its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.backends.metadata.base_changes import ChangeRequest, ChangeRequestStatus
from gitstore.domain.errors import FailedPrecondition, GitStoreError, NotFound
from gitstore.git.v1 import git_service_pb2 as pb

from . import notify
from .refs import HEADS, branch_head

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.changes")

PROPOSALS = "proposals/"
SWEEP_PAGE = 100


def owns_branch(cr: ChangeRequest) -> bool:
    """Whether the request's source branch is deleted when it is finished."""
    return cr.source_branch.startswith(PROPOSALS)


async def delete_proposal_branch(
    services: ApiServices, record: RepositoryRecord, cr: ChangeRequest
) -> bool:
    """Delete a finished request's proposal branch at its recorded head; True when the
    branch is gone (deleted now or before). Never raises: what fails is the sweeper's."""
    if cr.state is ChangeRequestStatus.OPEN or not owns_branch(cr) or not cr.head_sha:
        return False
    request = pb.DeleteBranchRequest(
        repository_id=record.repository_id,
        branch=cr.source_branch,
        expected_head=cr.head_sha,
        trailers=pb.Trailers(actor="gitstore"),
    )
    try:
        await services.git().delete_branch(request)
    except NotFound:
        return True  # deleted before (idempotent)
    except FailedPrecondition as exc:  # moved since (someone's commits): keep it
        log.info("kept %s of %s: %s", cr.source_branch, record.repository_id, exc.message)
        return False
    except GitStoreError as exc:
        log.warning(
            "could not delete %s of %s (the sweeper retries): %s",
            cr.source_branch,
            record.repository_id,
            exc.message,
        )
        return False
    log.info(
        "deleted %s of %s (!%d %s)", cr.source_branch, record.repository_id, cr.number, cr.state
    )
    return True


async def _landed(services: ApiServices, record: RepositoryRecord, cr: ChangeRequest) -> bool:
    target = await branch_head(services, record, cr.target_branch)
    if target is None:
        return False
    for commit in (cr.merge_sha, cr.head_sha):
        if not commit:
            continue
        try:
            found = await services.git().merge_base(record.repository_id, commit, target)
        except NotFound:  # a candidate that never landed may have been pruned
            continue
        if found.left_is_ancestor:
            return True
    return False


async def finish_merge(
    services: ApiServices, record: RepositoryRecord, cr: ChangeRequest
) -> ChangeRequest:
    """Finish a merge interrupted after the target moved (see the module doc); the request
    as it is now."""
    if cr.state is not ChangeRequestStatus.OPEN or not cr.merge_sha:
        return cr
    if not await _landed(services, record, cr):
        return cr
    try:
        merged = await services.store.update_change_request(cr.id, state=ChangeRequestStatus.MERGED)
    except FailedPrecondition:  # finished meanwhile (another process, the merge itself)
        return await services.store.get_change_request(cr.id) or cr
    log.warning(
        "change request %s!%d: finished a merge interrupted after %s moved to %s",
        record.repository_id,
        cr.number,
        cr.target_branch,
        cr.merge_sha,
    )
    if merged.target_branch == record.default_branch:
        services.store_schemas.changed(record)
    await notify.notify(services, notify.MERGED, record, merged, merged.merged_by or "gitstore")
    await delete_proposal_branch(services, record, merged)
    return merged


@dataclass(slots=True)
class SweepResult:
    merges_finished: int = 0
    branches_deleted: int = 0


async def sweep_repository(services: ApiServices, record: RepositoryRecord) -> SweepResult:
    """Finish interrupted merges and delete leftover proposal branches of one repository."""
    store, result = services.store, SweepResult()
    page = await store.list_change_requests(
        record.id, state=ChangeRequestStatus.OPEN, first=SWEEP_PAGE
    )
    for cr in page.items:
        if cr.merge_sha and (await finish_merge(services, record, cr)).state is not cr.state:
            result.merges_finished += 1
    refs = await services.git().list_refs(record.repository_id, HEADS + PROPOSALS)
    for ref in refs:
        branch = ref.name[len(HEADS) :]
        head = ref.peeled or ref.target
        found = await store.list_change_requests(record.id, source_branch=branch, first=1)
        newest = found.items[0] if found.items else None
        if newest is None or newest.state is ChangeRequestStatus.OPEN:
            continue  # not proposed yet (the controller opens it next), or still open
        if newest.head_sha == head and await delete_proposal_branch(services, record, newest):
            result.branches_deleted += 1
    return result


async def sweep_all(services: ApiServices) -> SweepResult:
    """:func:`sweep_repository` over every repository (namespace by namespace)."""
    store, total = services.store, SweepResult()
    after: str | None = None
    while True:
        namespaces = await store.list_namespaces(first=SWEEP_PAGE, after=after)
        for namespace in namespaces.items:
            repo_after: str | None = None
            while True:
                repos = await store.list_repositories(
                    namespace.id, first=SWEEP_PAGE, after=repo_after
                )
                for record in repos.items:
                    try:
                        done = await sweep_repository(services, record)
                    except GitStoreError as exc:
                        log.warning("sweep of %s: %s", record.repository_id, exc.message)
                        continue
                    total.merges_finished += done.merges_finished
                    total.branches_deleted += done.branches_deleted
                if not repos.has_next_page or not repos.items:
                    break
                repo_after = repos.end_cursor
        if not namespaces.has_next_page or not namespaces.items:
            return total
        after = namespaces.end_cursor


class ChangeSweeper:
    """Runs :func:`sweep_all` ``first_delay`` seconds after start (or ``interval``, if
    shorter) and then every ``interval`` seconds; ``interval`` 0: never."""

    def __init__(self, services: ApiServices, interval: float, first_delay: float = 30.0) -> None:
        self._services = services
        self._interval = interval
        self._first_delay = first_delay
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="change-request-sweeper")

    async def _run(self) -> None:
        delay = min(self._first_delay, self._interval)
        while True:
            await asyncio.sleep(delay)
            delay = self._interval
            try:
                done = await sweep_all(self._services)
            except Exception:
                log.exception("change request sweep failed (retried next round)")
                continue
            if done.merges_finished or done.branches_deleted:
                log.info(
                    "change request sweep: %d merge(s) finished, %d branch(es) deleted",
                    done.merges_finished,
                    done.branches_deleted,
                )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
