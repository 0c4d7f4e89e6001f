"""Storefront revalidation for ON_COMMIT publications.

A release of an ``ON_RELEASE_TAG`` repository already reaches storefronts as the API's
``release.published`` webhook (docs/releases.md). An ``ON_COMMIT`` repository publishes every
commit of its default branch, and no webhook fires for those: this controller covers them.

How it learns of them: it **watches the repository's resources** (every kind). The resource
store is fed by the worker after it projected the commit into the KV, and in an ON_COMMIT
repository the default branch *is* what storefronts read, so a resource change is a
published change. Every change is one key (the repository), so a commit of 1,000 files
becomes one revalidation (the work queue deduplicates; changes arriving while a POST runs
are sent by the next). The first list after start (what changed while it was not running is
unknown) is sent as ``full: true``: revalidate everything.

Each URL gets one ``POST`` per batch, body (compact JSON, keys sorted)::

    {"event": "catalog.changed", "repository": "acme/catalog", "channel": "live",
     "resourceVersion": "1042", "changed": ["product/blue-shirt", ...], "changedCount": 2,
     "full": false}

signed like the API's webhooks: ``X-GitStore-Signature-256: sha256=<HMAC-SHA256(secret,
body)>``, ``X-GitStore-Event: catalog.changed``. A 2xx is success; anything else, a timeout or
a refused connection is retried with the work queue's backoff (the batch is kept). For a
repository that is not ``ON_COMMIT`` the controller sends nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from ..controller import Context, KeyController, Result
from ..errors import PermanentError, RetryableError

log = logging.getLogger(__name__)

EVENT = "catalog.changed"
MAX_CHANGED = 1000
MODE = """
query($fullName: String!) { repository(by: {fullName: $fullName}) { publishMode } }"""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class RevalidationController(KeyController):
    name = "revalidation"
    kind = "*"

    def __init__(self, urls: Sequence[str], secret: str = "", *, timeout: float = 10.0) -> None:
        self.urls = list(urls)
        self.secret = secret
        self.timeout = timeout
        self.pending: set[str] = set()
        self.full = True  # at start, what changed while no one watched is unknown
        self.resource_version = "0"
        self.sent = 0
        self._mode: str | None = None

    def key_of(self, event_type: str, obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        if event_type == "SYNC":  # a new leader: what the last one sent is unknown
            self.full = True
        self.pending.add(f"{str(obj['kind']).lower()}/{meta['name']}")
        rv = str(meta.get("resourceVersion") or "0")
        if int(rv) > int(self.resource_version):
            self.resource_version = rv
        return "repository"

    async def reconcile_key(self, ctx: Context, key: str) -> Result | None:
        if not self.urls or not (self.pending or self.full):
            return None
        if self._mode is None:
            data = await ctx.client.execute(MODE, {"fullName": ctx.repository})
            if data["repository"] is None:
                raise PermanentError(f"repository {ctx.repository} not found")
            self._mode = str(data["repository"]["publishMode"])
        if self._mode != "ON_COMMIT":
            self.pending.clear()
            self.full = False
            return None
        batch, full = sorted(self.pending), self.full
        payload = {
            "event": EVENT,
            "repository": ctx.repository,
            "channel": "live",
            "resourceVersion": self.resource_version,
            "changed": batch[:MAX_CHANGED],
            "changedCount": len(batch),
            "full": full,
        }
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-GitStore-Event": EVENT}
        if self.secret:
            headers["X-GitStore-Signature-256"] = signature(self.secret, body)
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            for url in self.urls:
                try:
                    response = await http.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    raise RetryableError(f"revalidation POST to {url}: {exc}") from exc
                if not 200 <= response.status_code < 300:
                    raise RetryableError(f"revalidation POST to {url}: HTTP {response.status_code}")
        self.pending.difference_update(batch)
        if full:
            self.full = False
        self.sent += 1
        return None
