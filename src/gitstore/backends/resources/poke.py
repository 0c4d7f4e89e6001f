"""The poke after a committed write: a ``ResourceChangedEvent`` on the ``resources`` stream
(key: the repository id). Watch caches then read the changes with ``changes_since``; a lost
poke only delays them until the next one (or their own polling), never loses a change.

So the stream is bounded (``poke_retention``: ``GITSTORE_RESOURCES__STREAM_MAX_MESSAGES``,
``..._MAX_AGE``, ``..._GROUP_IDLE_EXPIRY``): every process that opens it passes the same."""

from __future__ import annotations

import logging

from gitstore.backends.queue.base import Queue, Retention
from gitstore.domain.errors import GitStoreError
from gitstore.domain.events import ResourceChangedEvent

log = logging.getLogger(__name__)


def poke_retention(max_messages: int, max_age: float, group_idle_expiry: float) -> Retention:
    """What the ``resources`` stream keeps (0 = no limit of that kind)."""
    return Retention(
        max_messages=max_messages, max_age=max_age, group_idle_expiry=group_idle_expiry
    )


async def announce(queue: Queue | None, repository_id: str, resource_version: int) -> bool:
    """Publish the poke on ``queue`` (bound to the ``resources`` stream); a queue error is
    logged, not raised (the write is already committed). True if published."""
    if queue is None:
        return False
    event = ResourceChangedEvent(repository_id, resource_version)
    try:
        await queue.publish(event.to_json(), key=repository_id)
    except GitStoreError as exc:
        log.warning(
            "could not announce resourceVersion %d of %s: %s",
            resource_version,
            repository_id,
            exc.message,
        )
        return False
    except Exception:  # unmapped: still only a lost poke, never the end of the announcer
        log.exception(
            "could not announce resourceVersion %d of %s", resource_version, repository_id
        )
        return False
    return True
