"""The SQL of controller leases, shared by SQLite and PostgreSQL (``{p}`` = placeholder).

The acquire is one upsert whose ``DO UPDATE`` only applies when the caller already holds
the lease or it has expired, so of concurrent callers on an expired lease exactly one wins.
"""

from __future__ import annotations

from typing import Any

from .base_leases import ControllerLease

_UPSERT = (
    "INSERT INTO controller_leases"
    " (scope, name, holder, acquired_at, renewed_at, expires_at, transitions)"
    " VALUES ({p}, {p}, {p}, {p}, {p}, {p}, 0)"
    " ON CONFLICT (scope, name) DO UPDATE SET"
    " holder = excluded.holder,"
    " acquired_at = CASE WHEN controller_leases.holder = excluded.holder"
    "   THEN controller_leases.acquired_at ELSE excluded.acquired_at END,"
    " renewed_at = excluded.renewed_at,"
    " expires_at = excluded.expires_at,"
    " transitions = controller_leases.transitions + CASE WHEN"
    "   controller_leases.holder = excluded.holder THEN 0 ELSE 1 END"
    " WHERE controller_leases.holder = excluded.holder"
    "   OR controller_leases.expires_at <= excluded.renewed_at"
)
_SELECT = "SELECT * FROM controller_leases WHERE scope = {p} AND name = {p}"
_DELETE = "DELETE FROM controller_leases WHERE scope = {p} AND name = {p} AND holder = {p}"


def upsert(p: str) -> str:
    return _UPSERT.format(p=p)


def select(p: str) -> str:
    return _SELECT.format(p=p)


def delete(p: str) -> str:
    return _DELETE.format(p=p)


def lease(row: Any, decode: Any) -> ControllerLease:
    """A row (mapping) to a lease; ``decode`` turns a stored time into a datetime."""
    return ControllerLease(
        scope=row["scope"],
        name=row["name"],
        holder=row["holder"],
        acquired_at=decode(row["acquired_at"]),
        renewed_at=decode(row["renewed_at"]),
        expires_at=decode(row["expires_at"]),
        transitions=int(row["transitions"]),
    )
