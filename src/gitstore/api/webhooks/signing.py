"""What a webhook receives: the ``release.published`` payload, its bytes and its signature.

The payload is built once per (webhook, publication) and stored with the delivery, so every
retry sends the same document; the body is its compact JSON (keys sorted, UTF-8) and the
signature ``sha256=<hex>`` is HMAC-SHA256 over exactly those bytes with the webhook's secret.
Receivers verify by recomputing it over the raw body (before parsing) and comparing in
constant time (see docs/releases.md, "Webhooks").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

from gitstore.domain.events import RELEASE_PUBLISHED, PublishedEvent

EVENT_HEADER = "X-GitStore-Event"
DELIVERY_HEADER = "X-GitStore-Delivery"
SIGNATURE_HEADER = "X-GitStore-Signature-256"
USER_AGENT = "GitStore-Webhooks/1"


def new_secret() -> str:
    """A fresh signing secret (256 random bits, URL-safe text)."""
    return "whsec_" + secrets.token_urlsafe(32)


def published_payload(event: PublishedEvent, published_at: datetime) -> dict[str, Any]:
    return {
        "event": RELEASE_PUBLISHED,
        "repository": event.repository_id,
        "channel": "live",
        "release": {"tag": event.tag, "commit": event.commit, "sequence": event.sequence},
        "previousCommit": event.previous_commit or None,
        "changed": list(event.changed),
        "changedCount": max(event.changed_count, len(event.changed)),
        "changedTruncated": event.changed_truncated,
        "publishedAt": published_at.isoformat().replace("+00:00", "Z"),
    }


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, body)>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(
    delivery_id: str, secret: str, body: bytes, event: str = RELEASE_PUBLISHED
) -> dict[str, str]:
    """Headers of one POST; ``event`` is the payload's ``event`` (change request events) or
    ``release.published``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: signature(secret, body),
    }


def event_of(payload: dict[str, Any]) -> str:
    """The event a delivery's payload is about (change request payloads name theirs)."""
    event = payload.get("event")
    return (
        event
        if isinstance(event, str) and event.startswith("change_request.")
        else (RELEASE_PUBLISHED)
    )
