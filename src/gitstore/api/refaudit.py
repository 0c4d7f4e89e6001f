"""Audit entries of ref updates: every path that moves a ref writes one (docs/git-transport.md
"Audit log").

Action ``ref.update``, target ``<namespace>/<repo>@<full ref>``, details ``transport``
(``http``/``ssh`` for pushes, ``api`` for mutations), ``old``/``new`` (40 hex, zeros for a
created/deleted ref), ``pushId`` (the push id, or the API request id: the correlation id of
the update's events), ``operation`` (``push``, the mutation's name: ``applyManifests``,
``revertCommit``, ``createRelease``, ...) and, when the caller gave one, ``idempotencyKey``.
One insert; nothing is read.
"""

from __future__ import annotations

from gitstore.backends.metadata.base import MetadataStore
from gitstore.domain.events import ZERO_SHA

REF_UPDATE = "ref.update"


async def audit_ref_update(
    store: MetadataStore,
    actor: str,
    repository_id: str,
    ref: str,
    old: str | None,
    new: str | None,
    *,
    transport: str,
    operation: str,
    correlation_id: str = "",
    idempotency_key: str = "",
    extra: dict[str, str] | None = None,
) -> None:
    details: dict[str, str] = {
        "transport": transport,
        "old": old or ZERO_SHA,
        "new": new or ZERO_SHA,
        "pushId": correlation_id,
        "operation": operation,
    }
    if idempotency_key:
        details["idempotencyKey"] = idempotency_key
    if extra:
        details.update(extra)
    await store.append_audit(actor, REF_UPDATE, f"{repository_id}@{ref}", details)
