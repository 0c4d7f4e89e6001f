"""What every metadata store implementation shares: the clock, cursors and input checks.

* **Clock.** Timestamps are taken in Python, not by the database, so every backend stores the
  same values: timezone-aware UTC with microsecond precision. A store's clock never goes
  backwards and never repeats, which keeps "ordered by creation" meaningful even for rows
  created within the same microsecond by one process.
* **Cursors.** Opaque to callers: URL-safe base64 of the sort key of the last row on a page.
  ``(created_at, id)`` lists use ``c1|<epoch microseconds>|<id>``; the audit log, which is
  ordered by its append sequence, uses ``a1|<seq>``. A cursor that does not decode is an
  ``InvalidArgument`` naming ``after``; it is never silently treated as "from the start".
* **Checks.** Identifiers and repository names are DNS labels; scopes, tiers, roles and page
  sizes are validated here so that all backends reject bad input with the same message.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from gitstore.domain.errors import FailedPrecondition, InvalidArgument
from gitstore.domain.identity import validate_dns_label

from .base import AuditEntry, PublishMode, RepositoryPatch, RepositoryRecord, Role, Tier, Visibility
from .migrations import Migration

TOKEN_SCOPES = frozenset({"read", "write", "status"})  # status: controller tokens
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


class Clock:
    """A strictly increasing UTC clock (microsecond resolution), safe across threads."""

    def __init__(self) -> None:
        self._last = EPOCH
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            current = datetime.now(UTC)
            if current <= self._last:
                current = self._last + _ONE_MICROSECOND
            self._last = current
            return current


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    if value.tzinfo is None:
        raise InvalidArgument("timestamps must be timezone-aware")
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


# ---------------------------------------------------------------------------- cursors
def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise _bad_cursor(cursor) from exc


def _bad_cursor(cursor: str) -> InvalidArgument:
    return InvalidArgument(
        f"after cursor {cursor!r} is not a cursor returned by this list", field="after"
    )


def encode_created_cursor(created_at: datetime, row_id: str) -> str:
    return _encode(f"c1|{to_micros(created_at)}|{row_id}")


def decode_created_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` a cursor points at; ``InvalidArgument`` if it is not one."""
    parts = _decode(cursor).split("|")
    if len(parts) != 3 or parts[0] != "c1" or not parts[2]:
        raise _bad_cursor(cursor)
    try:
        return from_micros(int(parts[1])), parts[2]
    except (ValueError, OverflowError) as exc:
        raise _bad_cursor(cursor) from exc


def encode_seq_cursor(seq: int) -> str:
    return _encode(f"a1|{seq}")


def decode_seq_cursor(cursor: str) -> int:
    parts = _decode(cursor).split("|")
    if len(parts) != 2 or parts[0] != "a1":
        raise _bad_cursor(cursor)
    try:
        return int(parts[1])
    except ValueError as exc:
        raise _bad_cursor(cursor) from exc


# ---------------------------------------------------------------------------- checks
def check_first(first: int) -> int:
    if isinstance(first, bool) or not isinstance(first, int) or first < 0:
        raise InvalidArgument(
            f"first must be a non-negative integer (got {first!r})", field="first"
        )
    return first


def check_identifier(identifier: str) -> str:
    return validate_dns_label(identifier, "identifier")


def check_repository_name(name: str) -> str:
    return validate_dns_label(name, "name")


def check_username(username: str) -> str:
    if not isinstance(username, str) or not username.strip():
        raise InvalidArgument("username must not be empty", field="username")
    if len(username) > 255:
        raise InvalidArgument("username must be at most 255 characters", field="username")
    return username


def check_tier(tier: Tier | str) -> Tier:
    try:
        return Tier(tier)
    except ValueError as exc:
        allowed = ", ".join(t.value for t in Tier)
        raise InvalidArgument(f"tier {tier!r} is not one of {allowed}", field="tier") from exc


def check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidArgument(f"role {role!r} is not one of {allowed}", field="role") from exc


def check_scopes(scopes: frozenset[str] | set[str]) -> frozenset[str]:
    unknown = set(scopes) - TOKEN_SCOPES
    if unknown:
        raise InvalidArgument(
            f"unknown token scopes {sorted(unknown)}; allowed: read, write, status", field="scopes"
        )
    if not scopes:
        raise InvalidArgument(
            "a token needs at least one scope (read, write, status)", field="scopes"
        )
    return frozenset(scopes)


def check_branch(branch: str) -> str:
    """A plausible git branch name; the git service applies git's full rules."""
    if not branch or branch.startswith(("-", "/")) or branch.endswith(("/", ".lock", ".")):
        raise InvalidArgument(
            f"default branch {branch!r} is not a valid branch name", field="default_branch"
        )
    if ".." in branch or "@{" in branch or any(c.isspace() or c in "~^:?*[\\" for c in branch):
        raise InvalidArgument(
            f"default branch {branch!r} is not a valid branch name", field="default_branch"
        )
    return branch


def check_release_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    if not patterns or any(not isinstance(p, str) or not p.strip() for p in patterns):
        raise InvalidArgument(
            "release patterns must be a non-empty list of non-empty globs",
            field="release_patterns",
        )
    return tuple(patterns)


def check_parent(tier: Tier, parent_enterprise_id: str | None) -> None:
    """Only an ORGANISATION may name a parent enterprise (whether it exists is checked later)."""
    if parent_enterprise_id is not None and tier is not Tier.ORGANISATION:
        raise InvalidArgument(
            f"only an ORGANISATION namespace may have a parent enterprise (tier is {tier.value})",
            field="parent_enterprise_id",
        )


def check_new_namespace(
    identifier: str, tier: Tier | str, parent_enterprise_id: str | None
) -> Tier:
    """The input checks of ``create_namespace``; returns the tier as a ``Tier``."""
    check_identifier(identifier)
    checked = check_tier(tier)
    check_parent(checked, parent_enterprise_id)
    return checked


def new_audit_entry(
    clock: Clock, actor: str, action: str, target: str, details: dict[str, Any] | None
) -> AuditEntry:
    """A new audit entry with a private copy of ``details`` (checked to be JSON first)."""
    details = json_copy(details, "details")
    return AuditEntry(str(uuid.uuid4()), clock.now(), actor, action, target, details)


def parent_problem(parent_id: str, parent_tier: Tier | None) -> InvalidArgument:
    if parent_tier is None:
        return InvalidArgument(
            f"parent enterprise {parent_id!r} does not exist", field="parent_enterprise_id"
        )
    return InvalidArgument(
        f"parent namespace {parent_id!r} is a {parent_tier.value} namespace, not an ENTERPRISE",
        field="parent_enterprise_id",
    )


def json_copy(value: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """A deep copy of a JSON object, as every backend stores it; ``InvalidArgument`` if it
    is not JSON-serialisable."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object", field=what)
    try:
        copied = json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what} is not JSON-serialisable: {exc}", field=what) from exc
    assert isinstance(copied, dict)
    return copied


def json_text(value: dict[str, Any] | None, what: str) -> str:
    return json.dumps(json_copy(value, what), separators=(",", ":"), sort_keys=True)


def check_publish_mode(mode: PublishMode | str) -> PublishMode:
    try:
        return PublishMode(mode)
    except ValueError as exc:
        allowed = ", ".join(m.value for m in PublishMode)
        raise InvalidArgument(
            f"publish mode {mode!r} is not one of {allowed}", field="publish_mode"
        ) from exc


def check_visibility(visibility: Visibility | str) -> Visibility:
    try:
        return Visibility(visibility)
    except ValueError as exc:
        allowed = ", ".join(v.value for v in Visibility)
        raise InvalidArgument(
            f"visibility {visibility!r} is not one of {allowed}", field="visibility"
        ) from exc


def repository_changes(patch: RepositoryPatch) -> dict[str, Any]:
    """The validated fields a patch sets (field name -> new value)."""
    changes: dict[str, Any] = {}
    if patch.description is not None:
        changes["description"] = patch.description
    if patch.publish_mode is not None:
        changes["publish_mode"] = check_publish_mode(patch.publish_mode)
    if patch.default_branch is not None:
        changes["default_branch"] = check_branch(patch.default_branch)
    if patch.visibility is not None:
        changes["visibility"] = check_visibility(patch.visibility)
    if patch.release_patterns is not None:
        changes["release_patterns"] = check_release_patterns(patch.release_patterns)
    if patch.require_signed_commits is not None:
        if not isinstance(patch.require_signed_commits, bool):
            raise InvalidArgument(
                "require_signed_commits must be true or false", field="require_signed_commits"
            )
        changes["require_signed_commits"] = patch.require_signed_commits
    return changes


def new_repository(
    namespace_id: str,
    name: str,
    description: str,
    publish_mode: PublishMode,
    default_branch: str,
    visibility: Visibility,
    created_by: str,
) -> RepositoryRecord:
    """A validated new record; the store fills in ``namespace`` and the timestamps."""
    return RepositoryRecord(
        id=str(uuid.uuid4()),
        namespace_id=namespace_id,
        namespace="",
        name=check_repository_name(name),
        description=description,
        publish_mode=check_publish_mode(publish_mode),
        default_branch=check_branch(default_branch),
        visibility=check_visibility(visibility),
        created_at=EPOCH,
        created_by=created_by,
        updated_at=EPOCH,
        updated_by=created_by,
    )


# ---------------------------------------------------------------------------- messages
def namespace_taken(identifier: str) -> str:
    return f"namespace identifier {identifier!r} is already taken"


def namespace_missing(namespace_id: str) -> str:
    return f"namespace {namespace_id!r} does not exist"


def namespace_has_repositories(identifier: str, count: int) -> str:
    return (
        f"namespace {identifier!r} still holds {count} "
        f"repositor{'y' if count == 1 else 'ies'}; delete them first"
    )


def namespace_has_children(identifier: str, count: int) -> str:
    return (
        f"enterprise namespace {identifier!r} is still the parent of {count} "
        f"organisation{'' if count == 1 else 's'}; delete or move them first"
    )


def repository_taken(namespace: str, name: str) -> str:
    return f"repository {namespace}/{name} already exists"


def repository_missing(repository_id: str) -> str:
    return f"repository {repository_id!r} does not exist"


# Disabling (not re-disabling) ends the user's login sessions; one statement, so two admins
# racing cannot lose the increment. ``{m}`` is the dialect's parameter mark.
SET_USER_DISABLED = (
    "UPDATE users SET session_epoch = session_epoch"
    " + CASE WHEN {m} AND NOT disabled THEN 1 ELSE 0 END, disabled = {m}"
    " WHERE id = {m} RETURNING *"
)


def user_missing(user_id: str) -> str:
    return f"user {user_id!r} does not exist"


def lease_end(now: datetime, lease_seconds: float) -> datetime:
    """When a lease of ``lease_seconds`` taken at ``now`` runs out."""
    if not lease_seconds >= 0:  # also NaN
        raise InvalidArgument("lease_seconds must be >= 0", field="lease_seconds")
    return now + timedelta(seconds=lease_seconds)


def idempotency_missing(scope: str, key: str) -> str:
    return f"idempotency key {key!r} (scope {scope!r}) is not claimed"


# ---------------------------------------------------------------------------- SQL stores
def scopes_text(scopes: frozenset[str]) -> str:
    return ",".join(sorted(scopes))


def scopes_set(text: str) -> frozenset[str]:
    return frozenset(s for s in text.split(",") if s)


def check_not_newer(applied: set[int], migrations: list[Migration]) -> None:
    """Refuse to run against a database migrated by newer code than this."""
    newest = max(migrations, key=lambda m: m.version).version
    unknown = sorted(v for v in applied if v > newest)
    if unknown:
        raise FailedPrecondition(
            f"the metadata database has schema version {unknown[-1]}, newer than this "
            f"gitstore knows ({newest}); upgrade gitstore"
        )
