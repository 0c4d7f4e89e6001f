"""What the three stores share for git-native ingress (``base_git``): input checks, messages,
cursors and the pure state transitions of publications and deliveries.

* **Checks** happen before any store is touched, so memory, SQLite and PostgreSQL reject bad
  input with the same ``InvalidArgument`` (naming the field): empty titles, keys that are not
  ``"<type> <base64>"``, fingerprints without ``SHA256:``, empty or blank tags, commit ids that
  are not 40 or 64 lowercase hex digits, unknown sources/kinds/states, webhook URLs that are
  not absolute http(s), empty secrets, sequences < 1, payloads that are not JSON objects,
  naive datetimes, ``limit < 0`` and ``lease_seconds <= 0``.
  ``check_ssh_key``, ``check_release``, ... bundle the checks of one operation, so every
  store runs the same checks in the same order.
* **Cursors** are URL-safe base64 like the other lists, with a prefix per list so a cursor of
  one list is refused by another: releases ``r1|<created us>|<id>`` and deliveries
  ``d1|<created us>|<id>`` (both newest first), publications ``p1|<sequence>``. The memory
  store pages with ``page_newest_first`` and ``page_publications``; the SQL stores page in SQL
  (``_git_rows.SqlGitReads``) with the same cursors.
* **Transitions.** ``complete_publication`` and ``record_delivery_attempt`` compute the new
  values here (``publication_outcome``, ``attempt_outcome``); each store only reads the row and
  writes the result inside its own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from gitstore.domain.errors import FailedPrecondition, InvalidArgument

from . import _common as c
from .base import Page
from .base_git import (
    DeliveryState,
    Publication,
    PublicationKind,
    PublicationState,
    WebhookDelivery,
)

RELEASE_SOURCES = ("http", "ssh", "api")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


# ---------------------------------------------------------------------------- checks
def check_text(value: str, what: str, *, limit: int = 255) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{what} must not be empty", field=what)
    if len(value) > limit:
        raise InvalidArgument(f"{what} must be at most {limit} characters", field=what)
    return value


def check_public_key(public_key: str) -> str:
    parts = public_key.split() if isinstance(public_key, str) else []
    if len(parts) != 2 or " ".join(parts) != public_key:
        raise InvalidArgument(
            "public_key must be a normalised OpenSSH key '<type> <base64>' without a comment",
            field="public_key",
        )
    return public_key


def check_fingerprint(fingerprint: str) -> str:
    if (
        not isinstance(fingerprint, str)
        or not fingerprint.startswith("SHA256:")
        or len(fingerprint) <= len("SHA256:")
        or any(ch.isspace() for ch in fingerprint)
    ):
        raise InvalidArgument(
            f"fingerprint {fingerprint!r} must look like 'SHA256:<base64>'", field="fingerprint"
        )
    return fingerprint


def check_tag(tag: str) -> str:
    check_text(tag, "tag")
    if tag.startswith(("refs/", "-", "/")) or any(ch.isspace() for ch in tag):
        raise InvalidArgument(
            f"tag {tag!r} must be a short tag name (no 'refs/', no spaces)", field="tag"
        )
    return tag


def check_commit(commit_sha: str) -> str:
    if not isinstance(commit_sha, str) or not _SHA.fullmatch(commit_sha):
        raise InvalidArgument(
            f"commit {commit_sha!r} must be a full commit id (40 or 64 lowercase hex digits)",
            field="commit_sha",
        )
    return commit_sha


def check_source(source: str) -> str:
    if source not in RELEASE_SOURCES:
        raise InvalidArgument(
            f"release source {source!r} is not one of {', '.join(RELEASE_SOURCES)}",
            field="source",
        )
    return source


def check_kind(kind: PublicationKind | str) -> PublicationKind:
    try:
        return PublicationKind(kind)
    except ValueError as exc:
        allowed = ", ".join(k.value for k in PublicationKind)
        raise InvalidArgument(
            f"publication kind {kind!r} is not one of {allowed}", field="kind"
        ) from exc


def check_final_state(state: PublicationState | str) -> PublicationState:
    try:
        checked = PublicationState(state)
    except ValueError:
        checked = PublicationState.PENDING
    if checked is PublicationState.PENDING:
        raise InvalidArgument(
            f"state must be PUBLISHED, SUPERSEDED or FAILED to complete a publication "
            f"(got {str(state)!r})",
            field="state",
        )
    return checked


def check_sequence(sequence: int, what: str = "sequence") -> int:
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise InvalidArgument(f"{what} must be an integer >= 1 (got {sequence!r})", field=what)
    return sequence


def check_changed(changed: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(changed, tuple | list) or not all(isinstance(x, str) for x in changed):
        raise InvalidArgument("changed must be a list of resource ids (strings)", field="changed")
    return tuple(changed)


def check_url(url: str) -> str:
    check_text(url, "url", limit=2048)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"webhook url {url!r} must be an absolute http:// or https:// URL", field="url"
        )
    return url


def check_time(value: datetime, what: str) -> datetime:
    """An aware datetime, in UTC (as every store returns it)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidArgument(f"{what} must be a timezone-aware datetime", field=what)
    return value.astimezone(UTC)


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidArgument(
            f"limit must be a non-negative integer (got {limit!r})", field="limit"
        )
    return limit


def lease_until(now: datetime, lease_seconds: float) -> datetime:
    if isinstance(lease_seconds, bool) or not isinstance(lease_seconds, int | float):
        raise InvalidArgument("lease_seconds must be a number", field="lease_seconds")
    if not lease_seconds > 0:
        raise InvalidArgument(
            f"lease_seconds must be > 0 (got {lease_seconds!r})", field="lease_seconds"
        )
    return now + timedelta(seconds=lease_seconds)


# ---------------------------------------------------------------------------- per operation
# The checks each ``GitMetadata`` write runs first, in one order, for all three stores.
def check_ssh_key(title: str, public_key: str, fingerprint: str) -> None:
    check_text(title, "title")
    check_public_key(public_key)
    check_fingerprint(fingerprint)


def check_release(tag: str, commit_sha: str, source: str) -> None:
    check_tag(tag)
    check_commit(commit_sha)
    check_source(source)


def check_publication(tag: str, commit_sha: str, kind: PublicationKind | str) -> PublicationKind:
    check_tag(tag)
    check_commit(commit_sha)
    return check_kind(kind)


def check_completion(
    sequence: int, state: PublicationState | str, at: datetime, changed: tuple[str, ...]
) -> tuple[PublicationState, datetime, tuple[str, ...]]:
    """``complete_publication``'s input, checked: ``(state, at in UTC, changed)``."""
    check_sequence(sequence)
    return check_final_state(state), check_time(at, "at"), check_changed(changed)


def check_webhook(url: str, secret: str) -> None:
    check_url(url)
    check_text(secret, "secret", limit=1024)


def check_webhook_update(description: str | None, secret: str | None) -> None:
    if description is not None and (not isinstance(description, str) or len(description) > 1024):
        raise InvalidArgument(
            "description must be a string of at most 1024 characters", field="description"
        )
    if secret is not None:
        check_text(secret, "secret", limit=1024)


def check_delivery(
    publication_sequence: int, payload: dict[str, Any], next_attempt_at: datetime
) -> tuple[dict[str, Any], datetime]:
    """``create_delivery``'s input, checked: ``(a JSON copy of payload, next_attempt_at)``."""
    check_sequence(publication_sequence, "publication_sequence")
    stored = c.json_copy(payload, "payload")
    return stored, check_time(next_attempt_at, "next_attempt_at")


def check_claim(now: datetime, limit: int, lease_seconds: float) -> tuple[datetime, datetime]:
    """``claim_due_deliveries``' input, checked: ``(now in UTC, end of the lease)``."""
    now = check_time(now, "now")
    check_limit(limit)
    return now, lease_until(now, lease_seconds)


def check_attempt(
    at: datetime, next_attempt_at: datetime | None
) -> tuple[datetime, datetime | None]:
    at = check_time(at, "at")
    if next_attempt_at is not None:
        next_attempt_at = check_time(next_attempt_at, "next_attempt_at")
    return at, next_attempt_at


# ---------------------------------------------------------------------------- messages
def fingerprint_taken(fingerprint: str) -> str:
    return f"SSH key {fingerprint} is already registered"


def release_taken(tag: str) -> str:
    return f"release {tag!r} is already recorded for this repository"


def webhook_taken(url: str) -> str:
    return f"a webhook for {url!r} already exists on this repository"


def publication_missing(repository_uuid: str, sequence: int) -> str:
    return f"publication {sequence} of repository {repository_uuid!r} does not exist"


def webhook_missing(webhook_id: str) -> str:
    return f"webhook {webhook_id!r} does not exist"


def delivery_missing(delivery_id: str) -> str:
    return f"webhook delivery {delivery_id!r} does not exist"


# ---------------------------------------------------------------------------- cursors
def encode_desc_cursor(prefix: str, created_at: datetime, row_id: str) -> str:
    return c._encode(f"{prefix}|{c.to_micros(created_at)}|{row_id}")


def decode_desc_cursor(prefix: str, cursor: str) -> tuple[datetime, str]:
    parts = c._decode(cursor).split("|")
    if len(parts) != 3 or parts[0] != prefix or not parts[2]:
        raise c._bad_cursor(cursor)
    try:
        return c.from_micros(int(parts[1])), parts[2]
    except (ValueError, OverflowError) as exc:
        raise c._bad_cursor(cursor) from exc


def encode_publication_cursor(sequence: int) -> str:
    return c._encode(f"p1|{sequence}")


def decode_publication_cursor(cursor: str) -> int:
    parts = c._decode(cursor).split("|")
    if len(parts) != 2 or parts[0] != "p1":
        raise c._bad_cursor(cursor)
    try:
        return int(parts[1])
    except ValueError as exc:
        raise c._bad_cursor(cursor) from exc


RELEASE_CURSOR = "r1"
DELIVERY_CURSOR = "d1"


class _Dated(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def id(self) -> str: ...


D = TypeVar("D", bound=_Dated)


def page_newest_first(rows: list[D], first: int, after: str | None, prefix: str) -> Page[D]:
    """A page of in-memory records, newest first by ``(created_at, id)`` (the memory store;
    the SQL stores page in SQL, ``_git_rows``)."""
    c.check_first(first)
    start = decode_desc_cursor(prefix, after) if after is not None else None
    rows = sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)
    total = len(rows)
    if start is not None:
        rows = [r for r in rows if (r.created_at, r.id) < start]
    items = rows[:first]
    end = encode_desc_cursor(prefix, items[-1].created_at, items[-1].id) if items else None
    return Page(items, total, len(rows) > first, end)


def page_publications(rows: list[Publication], first: int, after: str | None) -> Page[Publication]:
    """A page of in-memory publications, newest (highest sequence) first."""
    c.check_first(first)
    before = decode_publication_cursor(after) if after is not None else None
    rows = sorted(rows, key=lambda p: p.sequence, reverse=True)
    total = len(rows)
    if before is not None:
        rows = [p for p in rows if p.sequence < before]
    items = rows[:first]
    end = encode_publication_cursor(items[-1].sequence) if items else None
    return Page(items, total, len(rows) > first, end)


# ---------------------------------------------------------------------------- transitions
def publication_outcome(
    current: Publication,
    state: PublicationState,
    at: datetime,
    changed: tuple[str, ...],
    error: str,
) -> Publication | None:
    """The completed publication, or None when it already has ``state`` (idempotent: leave
    it unchanged). ``FailedPrecondition`` if it already ended differently."""
    if current.state is state:
        return None
    if current.state is not PublicationState.PENDING:
        raise FailedPrecondition(
            f"publication {current.sequence} is already {current.state.value}; "
            f"it cannot become {state.value}"
        )
    return Publication(
        repository_uuid=current.repository_uuid,
        sequence=current.sequence,
        tag=current.tag,
        commit_sha=current.commit_sha,
        kind=current.kind,
        state=state,
        requested_at=current.requested_at,
        requested_by=current.requested_by,
        correlation_id=current.correlation_id,
        completed_at=at,
        changed=changed,
        error=error,
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    """What ``record_delivery_attempt`` writes."""

    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    completed_at: datetime | None
    history: tuple[dict[str, Any], ...]


def attempt_outcome(
    current: WebhookDelivery,
    at: datetime,
    status_code: int | None,
    error: str,
    succeeded: bool,
    next_attempt_at: datetime | None,
) -> Attempt:
    if current.state is not DeliveryState.PENDING:
        raise FailedPrecondition(
            f"webhook delivery {current.id!r} is already {current.state.value}"
        )
    if status_code is not None and (
        isinstance(status_code, bool) or not isinstance(status_code, int)
    ):
        raise InvalidArgument("status_code must be an integer or None", field="status_code")
    entry = {"at": at.isoformat(), "statusCode": status_code, "error": error}
    if succeeded:
        state, next_at, done = DeliveryState.SUCCEEDED, None, at
    elif next_attempt_at is None:
        state, next_at, done = DeliveryState.FAILED, None, at
    else:
        state, next_at, done = DeliveryState.PENDING, next_attempt_at, None
    return Attempt(
        state, current.attempts + 1, next_at, status_code, error, done, (*current.history, entry)
    )
