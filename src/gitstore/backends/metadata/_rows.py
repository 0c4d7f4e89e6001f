"""Records to table rows and back, for both SQL stores.

The SQLite and PostgreSQL schemas have the same tables and columns; they differ only in how a
timestamp and a JSON value are stored (SQLite: integer microseconds and JSON text;
PostgreSQL: ``timestamptz`` and ``jsonb``). A ``Codec`` captures that difference, so the
mapping between the contract's dataclasses and rows is written once. Rows are anything
indexable by column name (``sqlite3.Row``, psycopg's ``dict_row``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from . import _common as c
from .base import (
    AccessToken,
    AuditEntry,
    IdempotencyRecord,
    Membership,
    Namespace,
    Page,
    PublishMode,
    RepositoryRecord,
    Role,
    Tier,
    User,
    Visibility,
)


class Row(Protocol):
    """A result row indexable by column name (``sqlite3.Row``, a psycopg ``dict_row``)."""

    def __getitem__(self, column: str, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Codec:
    """How one dialect stores timestamps and JSON values."""

    ts_out: Callable[[datetime], Any]
    ts_in: Callable[[Any], datetime]
    json_out: Callable[[Any], Any]
    json_in: Callable[[Any], Any]

    def opt_ts_out(self, value: datetime | None) -> Any:
        return None if value is None else self.ts_out(value)

    def opt_ts_in(self, value: Any) -> datetime | None:
        return None if value is None else self.ts_in(value)


def insert_sql(table: str, values: Mapping[str, Any], mark: str, suffix: str = "") -> str:
    """``INSERT INTO table (columns) VALUES (marks)`` for a row dict; ``mark`` is ``?`` or
    ``%s``. Column names come from this module, never from callers' input."""
    columns = ", ".join(values)
    marks = ", ".join([mark] * len(values))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}){suffix}"


REPO_SELECT = (
    "SELECT r.*, n.identifier AS namespace FROM repositories r"
    " JOIN namespaces n ON n.id = r.namespace_id"
)


# ---------------------------------------------------------------------------- to rows
def user_row(u: User, k: Codec) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "password_hash": u.password_hash,
        "is_admin": u.is_admin,
        "disabled": u.disabled,
        "created_at": k.ts_out(u.created_at),
        "session_epoch": u.session_epoch,
    }


def token_row(t: AccessToken, k: Codec) -> dict[str, Any]:
    return {
        "id": t.id,
        "user_id": t.user_id,
        "name": t.name,
        "token_hash": t.token_hash,
        "scopes": ",".join(sorted(t.scopes)),
        "created_at": k.ts_out(t.created_at),
        "expires_at": k.opt_ts_out(t.expires_at),
    }


def namespace_row(n: Namespace, k: Codec) -> dict[str, Any]:
    return {
        "id": n.id,
        "identifier": n.identifier,
        "display_name": n.display_name,
        "tier": n.tier.value,
        "parent_enterprise_id": n.parent_enterprise_id,
        "created_at": k.ts_out(n.created_at),
        "created_by": n.created_by,
        "updated_at": k.ts_out(n.updated_at),
        "updated_by": n.updated_by,
    }


def membership_row(m: Membership, k: Codec) -> dict[str, Any]:
    return {
        "namespace_id": m.namespace_id,
        "username": m.username,
        "role": m.role.value,
        "created_at": k.ts_out(m.created_at),
    }


def repository_row(r: RepositoryRecord, k: Codec) -> dict[str, Any]:
    return {
        "id": r.id,
        "namespace_id": r.namespace_id,
        "name": r.name,
        "description": r.description,
        "publish_mode": r.publish_mode.value,
        "default_branch": r.default_branch,
        "visibility": r.visibility.value,
        "release_patterns": k.json_out(list(r.release_patterns)),
        "require_signed_commits": r.require_signed_commits,
        "created_at": k.ts_out(r.created_at),
        "created_by": r.created_by,
        "updated_at": k.ts_out(r.updated_at),
        "updated_by": r.updated_by,
    }


def repository_patch_row(changes: dict[str, Any], k: Codec) -> dict[str, Any]:
    """Column values for the validated changes of ``_common.repository_changes``."""
    values: dict[str, Any] = {}
    for column, value in changes.items():
        if column == "release_patterns":
            values[column] = k.json_out(list(value))
        elif isinstance(value, enum.Enum):
            values[column] = value.value
        else:
            values[column] = value
    return values


def audit_row(a: AuditEntry, k: Codec) -> dict[str, Any]:
    return {
        "id": a.id,
        "at": k.ts_out(a.at),
        "actor": a.actor,
        "action": a.action,
        "target": a.target,
        "details": k.json_out(a.details),
    }


# ---------------------------------------------------------------------------- from rows
def user(row: Row, k: Codec) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        is_admin=bool(row["is_admin"]),
        created_at=k.ts_in(row["created_at"]),
        disabled=bool(row["disabled"]),
        session_epoch=int(row["session_epoch"]),
    )


def token(row: Row, k: Codec) -> AccessToken:
    return AccessToken(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        token_hash=row["token_hash"],
        scopes=c.scopes_set(row["scopes"]),
        created_at=k.ts_in(row["created_at"]),
        expires_at=k.opt_ts_in(row["expires_at"]),
        revoked_at=k.opt_ts_in(row["revoked_at"]),
        last_used_at=k.opt_ts_in(row["last_used_at"]),
    )


def namespace(row: Row, k: Codec) -> Namespace:
    return Namespace(
        id=row["id"],
        identifier=row["identifier"],
        display_name=row["display_name"],
        tier=Tier(row["tier"]),
        parent_enterprise_id=row["parent_enterprise_id"],
        created_at=k.ts_in(row["created_at"]),
        created_by=row["created_by"],
        updated_at=k.ts_in(row["updated_at"]),
        updated_by=row["updated_by"],
    )


def membership(row: Row, k: Codec) -> Membership:
    return Membership(
        row["namespace_id"], row["username"], Role(row["role"]), k.ts_in(row["created_at"])
    )


def repository(row: Row, k: Codec) -> RepositoryRecord:
    return RepositoryRecord(
        id=row["id"],
        namespace_id=row["namespace_id"],
        namespace=row["namespace"],
        name=row["name"],
        description=row["description"],
        publish_mode=PublishMode(row["publish_mode"]),
        default_branch=row["default_branch"],
        visibility=Visibility(row["visibility"]),
        created_at=k.ts_in(row["created_at"]),
        created_by=row["created_by"],
        updated_at=k.ts_in(row["updated_at"]),
        updated_by=row["updated_by"],
        release_patterns=tuple(k.json_in(row["release_patterns"])),
        require_signed_commits=bool(row["require_signed_commits"]),
    )


def idempotency(row: Row, k: Codec, now: datetime) -> IdempotencyRecord:
    """``now``: the store's clock when the row was read (judges ``lease_expired``)."""
    response = row["response"]
    lease_until = k.ts_in(row["lease_until"])
    return IdempotencyRecord(
        scope=row["scope"],
        key=row["key"],
        request_hash=row["request_hash"],
        response=None if response is None else k.json_in(response),
        created_at=k.ts_in(row["created_at"]),
        owner=row["owner"],
        claimed_at=k.ts_in(row["claimed_at"]),
        lease_until=lease_until,
        lease_expired=response is None and lease_until <= now,
    )


def audit(row: Row, k: Codec) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=k.ts_in(row["at"]),
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        details=k.json_in(row["details"]),
    )


# ---------------------------------------------------------------------------- paging
def page_queries(
    table: str, *, by_namespace: bool, first: int, after: str | None, mark: str
) -> tuple[str, str, tuple[datetime, str] | None]:
    """``(count query, page query, cursor)`` for ``table`` ordered by ``(created_at, id)``;
    checks ``first`` and decodes the ``after`` cursor (``InvalidArgument`` if bad).

    Parameters: the count takes ``[namespace_id]``; the page takes ``[namespace_id]``, then
    ``created_at, id`` of the cursor when there is one, then the row limit."""
    c.check_first(first)
    start = c.decode_created_cursor(after) if after is not None else None
    alias = "r" if table == "repositories" else "t"
    source = REPO_SELECT if table == "repositories" else f"SELECT * FROM {table} t"
    where = [f"{alias}.namespace_id = {mark}"] if by_namespace else []
    count = f"SELECT count(*) AS n FROM {table} {alias}" + _where(where)
    if start:
        where.append(f"({alias}.created_at, {alias}.id) > ({mark}, {mark})")
    page = source + _where(where) + f" ORDER BY {alias}.created_at, {alias}.id LIMIT {mark}"
    return count, page, start


def audit_queries(
    *, prefix: str | None, action: str | None, after: str | None, first: int, mark: str
) -> tuple[str, list[Any], str, list[Any]]:
    """``(count query, its params, page query, its params)`` for the audit log, newest first;
    checks ``first`` and decodes the ``after`` cursor (``InvalidArgument`` if bad)."""
    c.check_first(first)
    before = c.decode_seq_cursor(after) if after is not None else None
    where: list[str] = []
    params: list[Any] = []
    if prefix is not None:
        where.append(f"substr(target, 1, {mark}) = {mark}")
        params += [len(prefix), prefix]
    if action is not None:
        where.append(f"action = {mark}")
        params.append(action)
    count = "SELECT count(*) AS n FROM audit_log" + _where(where)
    count_params = list(params)
    if before is not None:
        where.append(f"seq < {mark}")
        params.append(before)
    page = f"SELECT * FROM audit_log{_where(where)} ORDER BY seq DESC LIMIT {mark}"
    return count, count_params, page, [*params, first + 1]


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def created_page(
    rows: list[Any], first: int, total: int, convert: Callable[[Any], Any], k: Codec
) -> Page[Any]:
    """A ``Page`` from up to ``first + 1`` rows ordered by ``(created_at, id)``."""
    items = [convert(r) for r in rows[:first]]
    end = None
    if items:
        last = rows[len(items) - 1]
        end = c.encode_created_cursor(k.ts_in(last["created_at"]), last["id"])
    return Page(items, total, len(rows) > first, end)


def audit_page(rows: list[Any], first: int, total: int, k: Codec) -> Page[AuditEntry]:
    items = [audit(r, k) for r in rows[:first]]
    end = c.encode_seq_cursor(rows[len(items) - 1]["seq"]) if items else None
    return Page(items, total, len(rows) > first, end)
