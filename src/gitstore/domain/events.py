"""Events that cross process boundaries through the queue.

A ``RefUpdateEvent`` is published by the git service for every ref it changes, after the
change is durable. Consumers (the worker) must treat delivery as at-least-once: the
``event_id`` is stable across redeliveries and republishing after a crash, so it can be used
to deduplicate. ``old``/``new`` are 40-hex commit or tag-object ids; all zeros means "did not
exist" (creation) or "no longer exists" (deletion).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

ZERO_SHA = "0" * 40

REF_UPDATE = "ref.updated"


@dataclass(frozen=True, slots=True)
class ChangedPathInfo:
    path: str
    change_type: str  # ADDED | MODIFIED | DELETED | RENAMED | TYPE_CHANGED
    old_blob_id: str = ""
    new_blob_id: str = ""
    old_path: str = ""


@dataclass(frozen=True, slots=True)
class RefUpdateEvent:
    event_id: str
    repository_id: str
    ref: str
    old: str
    new: str
    actor: str = ""
    correlation_id: str = ""
    timestamp: float = 0.0
    changed_paths: tuple[ChangedPathInfo, ...] = field(default_factory=tuple)
    type: str = REF_UPDATE

    @property
    def is_deletion(self) -> bool:
        return self.new == ZERO_SHA

    @property
    def is_creation(self) -> bool:
        return self.old == ZERO_SHA

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> RefUpdateEvent:
        data: dict[str, Any] = json.loads(raw)
        paths = tuple(ChangedPathInfo(**p) for p in data.pop("changed_paths", []))
        return cls(changed_paths=paths, **data)
