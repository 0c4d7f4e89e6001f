"""What happens around a change request event: an audit entry and the webhooks.

Every event (``change_request.opened`` / ``updated`` / ``merged`` / ``closed``) is an audit
entry (action = the event, target ``<ns>/<repo>!<number>``, details: id, branches, heads) and
one webhook delivery per active webhook of the repository with the event's JSON payload
(``payload``), queued through ``api.webhooks`` (signed and retried like
``release.published``). Deliveries are keyed per webhook by a number (the publication
sequence for releases): change request events use ``EVENT_KEYS + number * 1000 + n``, far
above any publication sequence, with ``n`` the event's index in the change request's audit
history (so a retried notification does not queue a second delivery). The receiver tells
them apart by ``event`` in the payload and the ``X-GitStore-Event`` header.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.backends.metadata.base_changes import ChangeRequest, ChangeRequestStatus

if TYPE_CHECKING:
    from ..services import ApiServices

log = logging.getLogger("gitstore.api.changes")

OPENED = "change_request.opened"
UPDATED = "change_request.updated"
MERGED = "change_request.merged"
CLOSED = "change_request.closed"
EVENT_KEYS = 1_000_000_000


def merged_sha(cr: ChangeRequest) -> str:
    """The merge commit of a MERGED request ("" otherwise: an OPEN one may hold the intent
    of a merge in progress, api/changes/cleanup.py)."""
    return cr.merge_sha if cr.state is ChangeRequestStatus.MERGED else ""


def payload(event: str, record: RepositoryRecord, cr: ChangeRequest, actor: str) -> dict[str, Any]:
    return {
        "event": event,
        "repository": record.repository_id,
        "actor": actor,
        "changeRequest": {
            "id": cr.id,
            "number": cr.number,
            "title": cr.title,
            "state": cr.state.value,
            "sourceBranch": cr.source_branch,
            "targetBranch": cr.target_branch,
            "author": cr.author_username,
            "headSha": cr.head_sha,
            "baseSha": cr.base_sha,
            "mergeSha": merged_sha(cr),
        },
        "timestamp": datetime.now(UTC).isoformat(),
    }


async def notify(
    services: ApiServices, event: str, record: RepositoryRecord, cr: ChangeRequest, actor: str
) -> None:
    store = services.store
    body = payload(event, record, cr, actor)
    await store.append_audit(
        actor,
        event,
        f"{record.repository_id}!{cr.number}",
        {
            "id": cr.id,
            "source": cr.source_branch,
            "target": cr.target_branch,
            "head": cr.head_sha,
            "merge": merged_sha(cr),
        },
    )
    await _deliver(services, record, cr, body)


async def _deliver(
    services: ApiServices, record: RepositoryRecord, cr: ChangeRequest, body: dict[str, Any]
) -> None:
    store = services.store
    hooks = [w for w in await store.list_webhooks(record.id) if w.active]
    if not hooks:
        return
    target = f"{record.repository_id}!{cr.number}"
    history = await store.list_audit(target_prefix=target, first=999)
    seen = sum(1 for entry in history.items if entry.target == target)
    key = EVENT_KEYS + cr.number * 1000 + min(seen, 999)
    now = datetime.now(UTC)
    for webhook in hooks:
        await store.create_delivery(
            webhook.id, publication_sequence=key, payload=body, next_attempt_at=now
        )
    services.wake_deliveries()
