"""What a watch needs from the resource store (the store implements it; api/watch consumes it)."""
from __future__ import annotations
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]

class Expired(Exception):
    """The resourceVersion asked for is older than the retained change window: relist."""
    def __init__(self, repository_id: str, resource_version: int, oldest: int) -> None:
        super().__init__(f"resourceVersion {resource_version} of {repository_id} is expired (oldest retained: {oldest}); list again")
        self.repository_id = repository_id
        self.resource_version = resource_version
        self.oldest = oldest

@dataclass(frozen=True, slots=True)
class ResourceChange:
    repository_id: str
    resource_version: int
    type: ChangeType
    kind: str
    name: str
    object: dict[str, Any]   # the whole object after the change (for DELETED: the last state)
    # the labels before the change when the change altered them (None: the object's own, or
    # no object before): a selector watch needs both sides (Kubernetes' ADDED/DELETED when an
    # object starts/stops matching)
    previous_labels: dict[str, str] | None = None

class ResourceFeed(Protocol):
    async def list_resources(self, repository_id: str, kind: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Every live resource (of ``kind`` or all kinds) and the repository's current resourceVersion, read consistently."""
    async def changes_since(self, repository_id: str, resource_version: int, *, limit: int = 1000) -> list[ResourceChange]:
        """Changes with resourceVersion > ``resource_version``, oldest first, at most ``limit``. Raises Expired when changes after ``resource_version`` are no longer retained."""
    async def current_version(self, repository_id: str) -> int: ...
