"""Change request states, merge strategies, reviews and the approval rule.

The rule (per repository, optional): merging into the default branch needs ``required``
approvals from maintainers of the repository's namespace, the author's own never counting.
A reviewer's latest verdict is the one that counts (an ``APPROVE`` followed by a
``REQUEST_CHANGES`` from the same person is no approval); ``COMMENT`` leaves a verdict as
it was. Approvals are given for a head commit: a push that moves the head does not dismiss
them (GitLab's default) — the head the merge takes is pinned by ``expectedHeadSha``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class ChangeRequestState(StrEnum):
    OPEN = "OPEN"
    MERGED = "MERGED"
    CLOSED = "CLOSED"


class ReviewVerdict(StrEnum):
    APPROVE = "APPROVE"
    REQUEST_CHANGES = "REQUEST_CHANGES"
    COMMENT = "COMMENT"


class MergeStrategy(StrEnum):
    MERGE = "MERGE"
    SQUASH = "SQUASH"
    FAST_FORWARD = "FAST_FORWARD"


@dataclass(frozen=True, slots=True)
class Review:
    reviewer: str  # user id
    verdict: ReviewVerdict
    created_at: float


def latest_verdicts(reviews: Iterable[Review]) -> dict[str, ReviewVerdict]:
    out: dict[str, ReviewVerdict] = {}
    for review in sorted(reviews, key=lambda r: r.created_at):
        if review.verdict is not ReviewVerdict.COMMENT:
            out[review.reviewer] = review.verdict
    return out


def approvals_missing(
    reviews: Iterable[Review], author: str, maintainers: Iterable[str], required: int
) -> int:
    """How many more maintainer approvals the rule needs (0: the rule is met)."""
    if required <= 0:
        return 0
    allowed = set(maintainers) - {author}
    verdicts = latest_verdicts(reviews)
    approved = sum(
        1 for who, v in verdicts.items() if who in allowed and v is ReviewVerdict.APPROVE
    )
    return max(0, required - approved)
