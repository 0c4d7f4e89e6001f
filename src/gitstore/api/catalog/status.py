"""``commitStatus(repository, sha)``: the worker's validation verdict on one commit.

The worker records a status for every commit it is told about in the repository's ``status``
KV scope (``gitstore.domain.projection``); no document means the commit has not been checked
yet (``PENDING``). Reading it is a storefront-style read: KV only, with the repository's read
rule (``access.readable_repository`` for the live channel: public repositories are open).
"""

from __future__ import annotations

from gitstore.backends.kv import KvStore
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.keys import validate_version
from gitstore.domain.projection import (
    COMMIT_STATUS_KIND,
    CommitStatus,
    commit_status,
    status_scope,
)


def parse_sha(value: object) -> str:
    """A full commit id (40 or 64 hex digits, any case) in lower case."""
    text = value.strip().lower() if isinstance(value, str) else value
    try:
        return validate_version(text)
    except InvalidArgument:
        raise InvalidArgument(
            f"sha {value!r} is not a full commit id (40 or 64 hex digits)", field="sha"
        ) from None


async def read_commit_status(kv: KvStore, repository: str, sha: str) -> CommitStatus:
    commit = parse_sha(sha)
    document = await kv.get(status_scope(repository), COMMIT_STATUS_KIND, commit)
    return commit_status(commit, document.value() if document is not None else None)
