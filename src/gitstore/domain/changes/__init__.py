"""Change requests: semantic diffs of commits, three-way merges of manifests, review rules."""

from gitstore.domain.changes.diff import ResourceChange, Snapshot, semantic_diff, snapshot
from gitstore.domain.changes.merge import Conflict, MergeResult, merge_snapshots
from gitstore.domain.changes.review import (
    ChangeRequestState,
    MergeStrategy,
    Review,
    ReviewVerdict,
    approvals_missing,
)

__all__ = [
    "ChangeRequestState",
    "Conflict",
    "MergeResult",
    "MergeStrategy",
    "ResourceChange",
    "Review",
    "ReviewVerdict",
    "Snapshot",
    "approvals_missing",
    "merge_snapshots",
    "semantic_diff",
    "snapshot",
]
