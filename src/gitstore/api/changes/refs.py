"""Branch heads as the change request use cases read them (through the git service)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitstore.backends.metadata.base import RepositoryRecord

if TYPE_CHECKING:
    from ..services import ApiServices

HEADS = "refs/heads/"


async def branch_head(services: ApiServices, record: RepositoryRecord, branch: str) -> str | None:
    """The branch's head commit, or None when the branch does not exist."""
    for ref in await services.git().list_refs(record.repository_id, HEADS + branch):
        if ref.name == HEADS + branch:
            return ref.peeled or ref.target
    return None
