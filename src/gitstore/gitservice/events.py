"""Building the ``RefUpdateEvent`` of a ref change.

One event per ref change the service makes: commits (with the changed paths), branch and
tag creation and deletion. ``actor`` and ``correlation_id`` come from the request's trailers
(``Actor``, ``Request-Id``); ``old``/``new`` use ``ZERO_SHA`` for "did not exist" / "no
longer exists"; for an annotated tag ``new`` is the tag object. ``event_id`` is a fresh
UUID stored with the outbox row, so a republished event keeps it and consumers can dedupe.
The event is ``fitted()`` to ``MAX_EVENT_BYTES`` before it reaches the outbox: a change with
too many (or too long) paths is announced by reference (``changed_count``, no paths).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from gitstore.domain.events import ZERO_SHA, ChangedPathInfo, RefUpdateEvent
from gitstore.git.v1 import git_service_pb2 as pb

_PREFIX = "CHANGE_TYPE_"


def changed_path_info(change: pb.ChangedPath) -> ChangedPathInfo:
    return ChangedPathInfo(
        path=change.path,
        change_type=pb.ChangeType.Name(change.change_type).removeprefix(_PREFIX),
        old_blob_id=change.old_blob_id,
        new_blob_id=change.new_blob_id,
        old_path=change.old_path,
    )


def ref_update(
    repository_id: str,
    ref: str,
    old: str | None,
    new: str | None,
    trailers: pb.Trailers,
    changes: Iterable[pb.ChangedPath] = (),
    *,
    changed_count: int | None = None,
) -> RefUpdateEvent:
    """The event of one ref change; ``changed_count`` when ``changes`` is not the whole list."""
    paths = tuple(changed_path_info(c) for c in changes)
    return RefUpdateEvent(
        event_id=uuid.uuid4().hex,
        repository_id=repository_id,
        ref=ref,
        old=old or ZERO_SHA,
        new=new or ZERO_SHA,
        actor=trailers.actor,
        correlation_id=trailers.request_id,
        timestamp=time.time(),
        changed_paths=paths,
        changed_count=len(paths) if changed_count is None else changed_count,
    ).fitted()
