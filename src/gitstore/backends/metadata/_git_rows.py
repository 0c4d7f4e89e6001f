"""Git-ingress records to table rows and back, for both SQL stores (see ``_rows``: one
mapping, a ``Codec`` for the dialect's timestamps and JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from . import _git_common as g
from ._rows import Codec, Row
from .base import Page
from .base_git import (
    DeliveryState,
    Publication,
    PublicationKind,
    PublicationState,
    Release,
    SshKey,
    Webhook,
    WebhookDelivery,
)

T = TypeVar("T")
SSH_KEY_SELECT = "SELECT k.*, u.username FROM ssh_keys k JOIN users u ON u.id = k.user_id"


def ssh_key_row(s: SshKey, k: Codec) -> dict[str, Any]:
    return {
        "id": s.id,
        "user_id": s.user_id,
        "title": s.title,
        "public_key": s.public_key,
        "fingerprint": s.fingerprint,
        "created_at": k.ts_out(s.created_at),
    }


def ssh_key(row: Row, k: Codec) -> SshKey:
    return SshKey(
        id=row["id"],
        user_id=row["user_id"],
        username=row["username"],
        title=row["title"],
        public_key=row["public_key"],
        fingerprint=row["fingerprint"],
        created_at=k.ts_in(row["created_at"]),
        last_used_at=k.opt_ts_in(row["last_used_at"]),
    )


def release_row(r: Release, k: Codec) -> dict[str, Any]:
    return {
        "id": r.id,
        "repository_uuid": r.repository_uuid,
        "tag": r.tag,
        "commit_sha": r.commit_sha,
        "created_at": k.ts_out(r.created_at),
        "created_by": r.created_by,
        "source": r.source,
        "message": r.message,
    }


def release(row: Row, k: Codec) -> Release:
    return Release(
        id=row["id"],
        repository_uuid=row["repository_uuid"],
        tag=row["tag"],
        commit_sha=row["commit_sha"],
        created_at=k.ts_in(row["created_at"]),
        created_by=row["created_by"],
        source=row["source"],
        message=row["message"],
    )


def publication_row(p: Publication, k: Codec) -> dict[str, Any]:
    return {
        "repository_uuid": p.repository_uuid,
        "sequence": p.sequence,
        "tag": p.tag,
        "commit_sha": p.commit_sha,
        "kind": p.kind.value,
        "state": p.state.value,
        "requested_at": k.ts_out(p.requested_at),
        "requested_by": p.requested_by,
        "correlation_id": p.correlation_id,
        "completed_at": k.opt_ts_out(p.completed_at),
        "changed": k.json_out(list(p.changed)),
        "error": p.error,
    }


def publication(row: Row, k: Codec) -> Publication:
    return Publication(
        repository_uuid=row["repository_uuid"],
        sequence=int(row["sequence"]),
        tag=row["tag"],
        commit_sha=row["commit_sha"],
        kind=PublicationKind(row["kind"]),
        state=PublicationState(row["state"]),
        requested_at=k.ts_in(row["requested_at"]),
        requested_by=row["requested_by"],
        correlation_id=row["correlation_id"],
        completed_at=k.opt_ts_in(row["completed_at"]),
        changed=tuple(k.json_in(row["changed"])),
        error=row["error"],
    )


def webhook_row(w: Webhook, k: Codec) -> dict[str, Any]:
    return {
        "id": w.id,
        "repository_uuid": w.repository_uuid,
        "url": w.url,
        "secret": w.secret,
        "created_at": k.ts_out(w.created_at),
        "created_by": w.created_by,
        "active": w.active,
        "description": w.description,
    }


def webhook(row: Row, k: Codec) -> Webhook:
    return Webhook(
        id=row["id"],
        repository_uuid=row["repository_uuid"],
        url=row["url"],
        secret=row["secret"],
        created_at=k.ts_in(row["created_at"]),
        created_by=row["created_by"],
        active=bool(row["active"]),
        description=row["description"],
    )


def delivery_row(d: WebhookDelivery, k: Codec) -> dict[str, Any]:
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "repository_uuid": d.repository_uuid,
        "publication_sequence": d.publication_sequence,
        "payload": k.json_out(d.payload),
        "state": d.state.value,
        "attempts": d.attempts,
        "created_at": k.ts_out(d.created_at),
        "next_attempt_at": k.opt_ts_out(d.next_attempt_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "completed_at": k.opt_ts_out(d.completed_at),
        "history": k.json_out(list(d.history)),
    }


def delivery(row: Row, k: Codec) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        repository_uuid=row["repository_uuid"],
        publication_sequence=int(row["publication_sequence"]),
        payload=k.json_in(row["payload"]),
        state=DeliveryState(row["state"]),
        attempts=int(row["attempts"]),
        created_at=k.ts_in(row["created_at"]),
        next_attempt_at=k.opt_ts_in(row["next_attempt_at"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        completed_at=k.opt_ts_in(row["completed_at"]),
        history=tuple(k.json_in(row["history"])),
    )


# ---------------------------------------------------------------------------- paging
def desc_page_queries(
    table: str, key_column: str, *, has_cursor: bool, mark: str
) -> tuple[str, str]:
    """``(count, page)`` for ``table`` rows of one ``key_column`` value, newest first by
    ``(created_at, id)``. Parameters: count ``[key]``; page ``[key, (created_at, id)?, limit]``."""
    where = f" WHERE {key_column} = {mark}"
    count = f"SELECT count(*) AS n FROM {table}{where}"
    if has_cursor:
        where += f" AND (created_at, id) < ({mark}, {mark})"
    page = f"SELECT * FROM {table}{where} ORDER BY created_at DESC, id DESC LIMIT {mark}"
    return count, page


def publication_queries(*, tag: bool, has_cursor: bool, mark: str) -> tuple[str, str]:
    """``(count, page)`` of a repository's publications, newest first. Parameters: count
    ``[repository, tag?]``; page ``[repository, tag?, before sequence?, limit]``."""
    where = f" WHERE repository_uuid = {mark}"
    if tag:
        where += f" AND tag = {mark}"
    count = f"SELECT count(*) AS n FROM publications{where}"
    if has_cursor:
        where += f" AND sequence < {mark}"
    page = f"SELECT * FROM publications{where} ORDER BY sequence DESC LIMIT {mark}"
    return count, page


def desc_page(
    found: list[Any], first: int, total: int, convert: Callable[[Any], T], prefix: str, k: Codec
) -> Page[T]:
    """A ``Page`` from up to ``first + 1`` rows ordered newest first by ``(created_at, id)``."""
    items = [convert(r) for r in found[:first]]
    end = None
    if items:
        last = found[len(items) - 1]
        end = g.encode_desc_cursor(prefix, k.ts_in(last["created_at"]), last["id"])
    return Page(items, total, len(found) > first, end)


def publication_page(found: list[Any], first: int, total: int, k: Codec) -> Page[Publication]:
    items = [publication(r, k) for r in found[:first]]
    end = g.encode_publication_cursor(items[-1].sequence) if items else None
    return Page(items, total, len(found) > first, end)
