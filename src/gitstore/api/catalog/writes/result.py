"""What a catalogue write answers: :class:`WriteResult`, and who made it: :class:`Caller`.

A ``WriteResult`` is also what an idempotency key stores (``to_json``/``from_json``): the
commit, whether one was made, the changes with their diffs, and the written resources in the
projection's document shape, so a replay answers exactly like the first request.
``generated_message`` is the default commit message; ``git_blob_id`` the object id git gives
a file's content (for an answer recovered without the service's reply).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...identity.principal import Principal
from ..resources import CatalogResource
from .git import Author
from .plan import DELETED, Change

EMAIL_DOMAIN = "users.gitstore.local"
_MAX_MESSAGE_LINES = 50


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    request_id: str

    @property
    def author(self) -> Author:
        name = self.principal.username
        return Author(name, f"{name}@{EMAIL_DOMAIN}")


@dataclass(frozen=True, slots=True)
class WriteResult:
    repository: str
    branch: str
    commit: str | None  # None for a dry run
    committed: bool  # a new commit was made
    changes: tuple[Change, ...]
    documents: tuple[dict[str, Any], ...] = ()
    dry_run: bool = False
    replayed: bool = False
    indexing_state: str | None = None
    reverted: str | None = None
    # the head ``commit`` was made on, when this process made it (not stored with an
    # idempotency key's answer): the index check knows a projection still there lacks it
    parent: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "branch": self.branch,
            "commit": self.commit,
            "committed": self.committed,
            "changes": [c.to_json() for c in self.changes],
            "documents": list(self.documents),
            "reverted": self.reverted,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WriteResult:
        return cls(
            repository=data["repository"],
            branch=data["branch"],
            commit=data["commit"],
            committed=data["committed"],
            changes=tuple(Change.from_json(c) for c in data["changes"]),
            documents=tuple(data.get("documents", ())),
            reverted=data.get("reverted"),
        )

    def resource(self, kind: str) -> CatalogResource | None:
        """The (first) resource of ``kind`` this write left, as reads return it."""
        for value in self.documents:
            if value.get("kind") == kind:
                return CatalogResource.from_value(
                    repository=self.repository,
                    kind=kind,
                    name=value["metadata"]["name"],
                    value=value,
                    version=self.commit or "",
                )
        return None


def git_blob_id(content: bytes) -> str:
    """Git's (SHA-1) object id of a blob with ``content``."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content, usedforsecurity=False).hexdigest()


def generated_message(changes: Sequence[Change]) -> str:
    """``upsert Product blue-shirt``; several: ``apply 3 changes`` and one line each."""
    lines: list[str] = []
    for change in changes:
        verb = "delete" if change.change_type == DELETED else "upsert"
        what = f"{change.kind} {change.name}" if change.kind else change.path
        line = f"{verb} {what}"
        if line not in lines:
            lines.append(line)
    if len(lines) == 1:
        return lines[0]
    body = lines[:_MAX_MESSAGE_LINES]
    if len(lines) > _MAX_MESSAGE_LINES:
        body.append(f"... and {len(lines) - _MAX_MESSAGE_LINES} more")
    return f"apply {len(lines)} changes\n\n" + "\n".join(body)
