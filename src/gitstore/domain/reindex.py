"""Shadow re-indexing, the shared names (pure): where a re-index's state lives in the KV and
the states it goes through. The work is ``worker.shadow``; the API (``api.reindex``) requests
it on the queue and reads the state; ``docs/projection.md``, "Shadow re-indexing"."""

from __future__ import annotations

import re

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.keys import ChannelScope

REINDEX_CHANNEL = "reindex"
STATE_KIND = "reindex"
STATE_NAME = "state"
BUILDING, DIFFERENT, SWITCHING = "BUILDING", "DIFFERENT", "SWITCHING"
SWITCHED, ABANDONED, FAILED, BUSY = "SWITCHED", "ABANDONED", "FAILED", "BUSY"
TERMINAL = (SWITCHED, ABANDONED, FAILED)

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def reindex_scope(repository: str) -> ChannelScope:
    """Where the state of ``repository``'s latest re-index lives."""
    return ChannelScope(repository, REINDEX_CHANNEL)


def validate_reindex_id(value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidArgument(
            f"re-index id {value!r} is not valid: use 1-64 letters, digits, '.', '_' or '-'",
            field="id",
        )
    return value
