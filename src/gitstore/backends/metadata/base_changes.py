"""The metadata contract of change requests (issue 11): change requests, their reviews and
comments, and the per-repository approval rule. ``MetadataStore`` inherits these abstract
methods; the rules of ``base`` hold (async, UTC datetimes, UUID ids, ``Page`` + opaque
``after`` cursors, domain errors, checks inside the store's transaction).

* A change request gets the repository's next ``number`` (1, 2, 3, ...) atomically; lists are
  newest first (by number).
* At most one OPEN change request per (repository, source branch, target branch):
  ``create_change_request`` of a second is ``AlreadyExists`` (``find_open_change_request``
  finds the first, for ``git push -o change-request``).
* ``update_change_request`` changes an OPEN one only (anything else is
  ``FailedPrecondition``); with ``expected_head`` it also requires that head (the merge's
  compare-and-swap on the record: two merges of one change request never both succeed).
* Notes are reviews (``verdict`` APPROVE / REQUEST_CHANGES / COMMENT) and comments
  (``verdict`` empty), oldest first. Deleting a repository deletes its change requests.
"""

from __future__ import annotations

import abc
import base64
import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitstore.domain.errors import FailedPrecondition, InvalidArgument, NotFound

if TYPE_CHECKING:
    from gitstore.backends.metadata._common import Clock
    from gitstore.backends.metadata.base import Page

MAX_TITLE = 256
MAX_TEXT = 65_536
MAX_APPROVALS = 100


class ChangeRequestStatus(enum.StrEnum):
    OPEN = "OPEN"
    MERGED = "MERGED"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    id: str
    repository_uuid: str
    number: int
    source_branch: str
    target_branch: str
    title: str
    description: str
    author_id: str
    author_username: str
    state: ChangeRequestStatus
    head_sha: str  # the source branch head the request was last updated to
    base_sha: str  # the merge base with the target at that time
    created_at: datetime
    updated_at: datetime
    merge_sha: str = ""  # the commit the target moved to (MERGED)
    merged_by: str = ""  # username
    closed_at: datetime | None = None  # merged or closed


@dataclass(frozen=True, slots=True)
class ChangeRequestNote:
    id: str
    change_request_id: str
    author_id: str
    author_username: str
    verdict: str  # APPROVE / REQUEST_CHANGES / COMMENT for a review, "" for a comment
    body: str
    head_sha: str
    created_at: datetime


VERDICTS = ("APPROVE", "REQUEST_CHANGES", "COMMENT", "")


def check_change_request(source: str, target: str, title: str, description: str) -> None:
    if not source:
        raise InvalidArgument("source_branch must not be empty", field="source_branch")
    if not target:
        raise InvalidArgument("target_branch must not be empty", field="target_branch")
    if source == target:
        raise InvalidArgument(
            f"source and target branch are both {source!r}", field="target_branch"
        )
    check_title(title)
    check_text(description, "description")


def check_title(title: str) -> None:
    if not title.strip() or len(title) > MAX_TITLE:
        raise InvalidArgument(
            f"title must be 1 to {MAX_TITLE} characters, not blank", field="title"
        )


def check_text(text: str, name: str) -> None:
    if len(text) > MAX_TEXT:
        raise InvalidArgument(f"{name} is over {MAX_TEXT} characters", field=name)


def check_note(verdict: str, body: str) -> None:
    if verdict not in VERDICTS:
        raise InvalidArgument(f"verdict {verdict!r} is not one of {VERDICTS}", field="verdict")
    check_text(body, "body")
    if not verdict and not body.strip():
        raise InvalidArgument("a comment needs a body", field="body")


def check_approvals(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_APPROVALS:
        raise InvalidArgument(
            f"required approvals must be 0 to {MAX_APPROVALS} (got {n!r})",
            field="requiredApprovals",
        )


def change_request_cursor(number: int) -> str:
    """The ``after`` cursor that continues a list after the change request ``number``."""
    # The stores' sequence cursor (``_common.encode_seq_cursor``; not imported: a cycle).
    return base64.urlsafe_b64encode(f"a1|{number}".encode()).decode().rstrip("=")


def open_taken(source: str, target: str) -> str:
    return f"an open change request from {source!r} into {target!r} already exists"


def not_open(cr_id: str, state: str) -> str:
    return f"change request {cr_id} is {state}, not OPEN"


def head_moved(current: ChangeRequest, expected_head: str | None) -> FailedPrecondition:
    return FailedPrecondition(
        f"change request {current.id} is at {current.head_sha}, not {expected_head}",
        field="expectedHeadSha",
    )


def missing(change_request_id: str) -> NotFound:
    return NotFound(f"change request {change_request_id} not found", field="id")


def check_updatable(
    change_request_id: str, current: ChangeRequest | None, expected_head: str | None
) -> ChangeRequest:
    """``current`` when ``update_change_request`` may change it; raises ``NotFound`` or
    ``FailedPrecondition`` (not OPEN, not at ``expected_head``) otherwise."""
    if current is None:
        raise missing(change_request_id)
    if current.state is not ChangeRequestStatus.OPEN:
        raise FailedPrecondition(not_open(current.id, current.state), field="id")
    if expected_head is not None and current.head_sha != expected_head:
        raise head_moved(current, expected_head)
    return current


def update_changes(
    now: datetime,
    *,
    title: str | None,
    description: str | None,
    head_sha: str | None,
    base_sha: str | None,
    state: ChangeRequestStatus | None,
    merge_sha: str | None,
    merged_by: str | None,
) -> dict[str, Any]:
    """The checked fields an ``update_change_request`` sets (``ChangeRequest`` names and
    types: ``updated_at`` always, ``closed_at`` when it leaves OPEN)."""
    if title is not None:
        check_title(title)
    if description is not None:
        check_text(description, "description")
    changes: dict[str, Any] = {"updated_at": now}
    for name, value in (
        ("title", title),
        ("description", description),
        ("head_sha", head_sha),
        ("base_sha", base_sha),
        ("merge_sha", merge_sha),
        ("merged_by", merged_by),
    ):
        if value is not None:
            changes[name] = value
    if state is not None:
        changes["state"] = ChangeRequestStatus(state)
        if state is not ChangeRequestStatus.OPEN:
            changes["closed_at"] = now
    return changes


class ChangeRequestMetadata(abc.ABC):
    _clock: Clock

    @abc.abstractmethod
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
        """``NotFound`` (repository), ``AlreadyExists`` (an open one for the branches)."""

    @abc.abstractmethod
    async def get_change_request(self, change_request_id: str) -> ChangeRequest | None: ...

    @abc.abstractmethod
    async def find_open_change_request(
        self, repository_uuid: str, source_branch: str, target_branch: str
    ) -> ChangeRequest | None: ...

    @abc.abstractmethod
    async def list_change_requests(
        self,
        repository_uuid: str,
        *,
        state: ChangeRequestStatus | None = None,
        source_branch: str | None = None,
        first: int,
        after: str | None = None,
    ) -> Page[ChangeRequest]:
        """Newest first."""

    @abc.abstractmethod
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
        """Change an OPEN change request (``NotFound``; ``FailedPrecondition`` when it is not
        open or not at ``expected_head``)."""

    async def add_change_request_note(
        self,
        change_request_id: str,
        *,
        author_id: str,
        author_username: str,
        verdict: str,
        body: str,
        head_sha: str,
    ) -> ChangeRequestNote:
        """``InvalidArgument`` (verdict, body), ``NotFound`` (change request)."""
        check_note(verdict, body)
        if await self.get_change_request(change_request_id) is None:
            raise missing(change_request_id)
        made = ChangeRequestNote(
            str(uuid.uuid4()),
            change_request_id,
            author_id,
            author_username,
            verdict,
            body,
            head_sha,
            self._clock.now(),
        )
        await self._save_note(made)
        return made

    @abc.abstractmethod
    async def _save_note(self, made: ChangeRequestNote) -> None:
        """Store a checked note (``add_change_request_note``)."""

    @abc.abstractmethod
    async def list_change_request_notes(self, change_request_id: str) -> list[ChangeRequestNote]:
        """Oldest first."""

    @abc.abstractmethod
    async def get_required_approvals(self, repository_uuid: str) -> int:
        """0 when the repository has no rule."""

    @abc.abstractmethod
    async def set_required_approvals(self, repository_uuid: str, approvals: int) -> None:
        """``NotFound`` (repository)."""
