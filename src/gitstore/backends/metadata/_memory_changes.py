"""Change requests in the memory store (``base_changes``): the reference behaviour the SQL
stores are held to by the contract suite."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from gitstore.domain.errors import AlreadyExists, NotFound

from . import _common as c
from .base import Page
from .base_changes import (
    ChangeRequest,
    ChangeRequestMetadata,
    ChangeRequestNote,
    ChangeRequestStatus,
    check_approvals,
    check_change_request,
    check_updatable,
    open_taken,
    update_changes,
)


class MemoryChangeRequests(ChangeRequestMetadata):
    _clock: c.Clock
    _repositories: dict[str, Any]

    def _init_changes(self) -> None:
        self._change_requests: dict[str, ChangeRequest] = {}
        self._cr_notes: list[ChangeRequestNote] = []
        self._cr_rules: dict[str, int] = {}

    def _cr_repository(self, repository_uuid: str) -> None:
        if repository_uuid not in self._repositories:
            raise NotFound(c.repository_missing(repository_uuid), field="repository_id")

    def _live(self) -> list[ChangeRequest]:
        """Change requests of repositories that still exist (deletion cascades)."""
        return [
            r for r in self._change_requests.values() if r.repository_uuid in self._repositories
        ]

    async def create_change_request(
        self,
        repository_uuid: str,
        *,
        source_branch: str,
        target_branch: str,
        title: str,
        description: str,
        author_id: str,
        author_username: str,
        head_sha: str,
        base_sha: str,
    ) -> ChangeRequest:
        check_change_request(source_branch, target_branch, title, description)
        self._cr_repository(repository_uuid)
        if await self.find_open_change_request(repository_uuid, source_branch, target_branch):
            raise AlreadyExists(open_taken(source_branch, target_branch), field="sourceBranch")
        number = 1 + max(
            (r.number for r in self._live() if r.repository_uuid == repository_uuid), default=0
        )
        now = self._clock.now()
        made = ChangeRequest(
            str(uuid.uuid4()),
            repository_uuid,
            number,
            source_branch,
            target_branch,
            title,
            description,
            author_id,
            author_username,
            ChangeRequestStatus.OPEN,
            head_sha,
            base_sha,
            now,
            now,
        )
        self._change_requests[made.id] = made
        return made

    async def get_change_request(self, change_request_id: str) -> ChangeRequest | None:
        found = self._change_requests.get(change_request_id)
        return found if found is not None and found.repository_uuid in self._repositories else None

    async def find_open_change_request(
        self, repository_uuid: str, source_branch: str, target_branch: str
    ) -> ChangeRequest | None:
        for r in self._live():
            if (r.repository_uuid, r.source_branch, r.target_branch, r.state) == (
                repository_uuid,
                source_branch,
                target_branch,
                ChangeRequestStatus.OPEN,
            ):
                return r
        return None

    async def list_change_requests(
        self,
        repository_uuid: str,
        *,
        state: ChangeRequestStatus | None = None,
        source_branch: str | None = None,
        first: int,
        after: str | None = None,
    ) -> Page[ChangeRequest]:
        c.check_first(first)
        found = [
            r
            for r in self._live()
            if r.repository_uuid == repository_uuid
            and (state is None or r.state == state)
            and (source_branch is None or r.source_branch == source_branch)
        ]
        found.sort(key=lambda r: -r.number)
        total = len(found)
        if after is not None:
            below = c.decode_seq_cursor(after)
            found = [r for r in found if r.number < below]
        items = found[:first]
        end = c.encode_seq_cursor(items[-1].number) if items else None
        return Page(items, total, len(found) > first, end)

    async def update_change_request(
        self,
        change_request_id: str,
        *,
        expected_head: str | None = None,
        title: str | None = None,
        description: str | None = None,
        head_sha: str | None = None,
        base_sha: str | None = None,
        state: ChangeRequestStatus | None = None,
        merge_sha: str | None = None,
        merged_by: str | None = None,
    ) -> ChangeRequest:
        changes = update_changes(
            self._clock.now(),
            title=title,
            description=description,
            head_sha=head_sha,
            base_sha=base_sha,
            state=state,
            merge_sha=merge_sha,
            merged_by=merged_by,
        )
        current = check_updatable(
            change_request_id, await self.get_change_request(change_request_id), expected_head
        )
        updated = dataclasses.replace(current, **changes)
        self._change_requests[updated.id] = updated
        return updated

    async def _save_note(self, made: ChangeRequestNote) -> None:
        self._cr_notes.append(made)

    async def list_change_request_notes(self, change_request_id: str) -> list[ChangeRequestNote]:
        return [n for n in self._cr_notes if n.change_request_id == change_request_id]

    async def get_required_approvals(self, repository_uuid: str) -> int:
        if repository_uuid not in self._repositories:
            return 0
        return self._cr_rules.get(repository_uuid, 0)

    async def set_required_approvals(self, repository_uuid: str, approvals: int) -> None:
        check_approvals(approvals)
        self._cr_repository(repository_uuid)
        self._cr_rules[repository_uuid] = approvals
