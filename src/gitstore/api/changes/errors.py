"""The typed refusals of change request mutations (``userErrors[].code``)."""

from __future__ import annotations

from gitstore.domain.errors import FailedPrecondition

CODES: dict[str, str] = {
    "CONFLICT": "Both branches changed the same resource or field differently; see "
    "`ChangeRequest.mergeability.conflicts` for each resource and field.",
    "STALE_HEAD": "The source branch is not at `expectedHeadSha` any more: review the new "
    "head and merge again with it.",
    "NOT_MERGEABLE": "The change request cannot be merged this way (not open, nothing to "
    "merge, a fast-forward that is not possible, the source branch is gone).",
    "APPROVALS_REQUIRED": "The repository requires more maintainer approvals (not the "
    "author's own) to merge into its default branch.",
    "VALIDATION_FAILED": "The merged result breaks a rule a push would be refused for; the "
    "message names each file and rule.",
}


class ChangeRefused(FailedPrecondition):
    """A refusal with one of ``CODES``."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        assert code in CODES, code
        super().__init__(message, field=field)
        self.code = code
