"""The resource model: what the store holds per (repository, kind, name).

``spec`` is the hub form from Git (what the projection stores); ``status`` comes from
controllers and is never in Git. ``to_object()`` is the JSON every read and watch returns:

    {"apiVersion", "kind", "metadata": {"uid", "name", "labels", "annotations",
     "resourceVersion" (str), "generation", "creationTimestamp", "deletionTimestamp",
     "finalizers"}, "spec", "status"}

Kinds are compared case-insensitively (``Product`` and ``product`` name the same kind; the
object keeps the manifest's spelling): :func:`kind_key`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitstore.domain.errors import FailedPrecondition, InvalidArgument


class Conflict(FailedPrecondition):
    """A write's expected resourceVersion is not the stored one: nothing was changed; read
    the resource again and retry."""

    code = "CONFLICT"

    def __init__(self, message: str, *, current: int | None = None) -> None:
        super().__init__(message, field="resourceVersion")
        self.current = current


def kind_key(kind: str) -> str:
    """The store key of a kind: its lower-case spelling."""
    if not isinstance(kind, str) or not kind or len(kind) > 253:
        raise InvalidArgument(f"kind {kind!r} must be a non-empty string", field="kind")
    return kind.lower()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 253:
        raise InvalidArgument(f"name {name!r} must be a non-empty string", field="name")
    return name


def rfc3339(moment: datetime) -> str:
    """``2026-12-06T08:00:00.123456Z`` (UTC, microseconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str, *, field_name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise InvalidArgument(
            f"{field_name} {text!r} is not an RFC 3339 timestamp", field=field_name
        ) from None
    if moment.tzinfo is None:
        raise InvalidArgument(f"{field_name} {text!r} has no time zone", field=field_name)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class SpecUpsert:
    """A resource as a commit of the default branch holds it (hub form)."""

    kind: str
    name: str
    api_version: str
    spec: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpecDelete:
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Resource:
    repository_id: str
    kind: str
    name: str
    api_version: str
    uid: str
    resource_version: int
    generation: int
    creation_timestamp: datetime
    spec: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    deletion_timestamp: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return kind_key(self.kind), self.name

    def to_object(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": {
                "uid": self.uid,
                "name": self.name,
                "labels": dict(self.labels),
                "annotations": dict(self.annotations),
                "resourceVersion": str(self.resource_version),
                "generation": self.generation,
                "creationTimestamp": rfc3339(self.creation_timestamp),
                "deletionTimestamp": (
                    rfc3339(self.deletion_timestamp) if self.deletion_timestamp else None
                ),
                "finalizers": list(self.finalizers),
            },
            "spec": self.spec,
            "status": self.status,
        }

    @classmethod
    def from_object(cls, repository_id: str, obj: dict[str, Any]) -> Resource:
        """The inverse of :meth:`to_object` (for what a backend stored)."""
        meta = obj["metadata"]
        deleted = meta.get("deletionTimestamp")
        return cls(
            repository_id=repository_id,
            kind=obj["kind"],
            name=meta["name"],
            api_version=obj["apiVersion"],
            uid=meta["uid"],
            resource_version=int(meta["resourceVersion"]),
            generation=int(meta["generation"]),
            creation_timestamp=parse_rfc3339(meta["creationTimestamp"], field_name="created"),
            spec=obj.get("spec") or {},
            status=obj.get("status") or {},
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            finalizers=tuple(meta.get("finalizers") or ()),
            deletion_timestamp=(
                parse_rfc3339(deleted, field_name="deletionTimestamp") if deleted else None
            ),
        )
