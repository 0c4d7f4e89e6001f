"""Sending webhook deliveries: claim what is due, POST it signed, record the attempt.

A loop (one per API replica) asks the metadata store for due deliveries
(``claim_due_deliveries``: PENDING with ``next_attempt_at <= now``, each *leased* for the
request timeout plus a margin, so replicas never send the same attempt at once) and POSTs each
(concurrently) with ``httpx``: the stored payload as compact JSON, ``Content-Type:
application/json``, ``X-GitStore-Event: release.published``, ``X-GitStore-Delivery: <id>``,
``X-GitStore-Signature-256: sha256=<HMAC-SHA256(secret, body)>``; redirects are not followed.

* A 2xx answer is success (SUCCEEDED).
* Anything else — another status, a timeout, a refused connection, a URL that now resolves to
  a private address — is a failed attempt: ``record_delivery_attempt`` with the status code and
  error, and the next attempt at ``now + backoff_seconds · 2^(attempts before) · (1 + j)``,
  ``j`` uniform in [0, 0.25) (jitter, so many webhooks failing together spread out), at most
  ``MAX_DELAY``; after ``max_attempts`` attempts the delivery is FAILED.

The loop waits ``poll_seconds`` between rounds (at most 1 s, less when the backoff is
shorter) or until :meth:`DeliveryDispatcher.wake` (a new delivery was queued). A crash
mid-send leaves the delivery leased; its lease runs out and it is sent again (receivers
deduplicate by ``X-GitStore-Delivery``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.metadata.base_git import WebhookDelivery
from gitstore.config import WebhookSettings
from gitstore.domain.errors import InvalidArgument, NotFound

from .signing import body_of, event_of, headers_for
from .urls import check_destination

log = logging.getLogger("gitstore.api.webhooks")

BATCH = 20
LEASE_MARGIN = 5.0
MAX_DELAY = 3600.0
MAX_ERROR = 500


def next_attempt_at(
    settings: WebhookSettings,
    attempts_before: int,
    now: datetime,
    jitter: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again after a failure of attempt number ``attempts_before + 1`` (None:
    that was the last one)."""
    if attempts_before + 1 >= settings.max_attempts:
        return None
    delay = min(settings.backoff_seconds * 2**attempts_before, MAX_DELAY)
    return now + timedelta(seconds=delay * (1 + 0.25 * jitter()))


class DeliveryDispatcher:
    def __init__(
        self,
        store: MetadataStore,
        settings: WebhookSettings,
        *,
        client: httpx.AsyncClient | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self._client = client
        self._owns_client = client is None
        self.poll_seconds = poll_seconds or min(1.0, settings.backoff_seconds)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.settings.timeout_seconds, follow_redirects=False
            )
        return self._client

    async def run_once(self) -> int:
        """One round: claim due deliveries and attempt each; returns how many."""
        due = await self.store.claim_due_deliveries(
            now=datetime.now(UTC),
            limit=BATCH,
            lease_seconds=self.settings.timeout_seconds + LEASE_MARGIN,
        )
        if due:
            await asyncio.gather(*(self._attempt(delivery) for delivery in due))
        return len(due)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Dispatch until ``stop`` is set (and ``wake`` called) or cancelled."""
        pause = self.poll_seconds
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                busy = await self.run_once()
                pause = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatching webhook deliveries failed")
                busy = 0
                pause = min(max(pause * 2, 1.0), 30.0)
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def _attempt(self, delivery: WebhookDelivery) -> None:
        webhook = await self.store.get_webhook(delivery.webhook_id)
        if webhook is None:
            return  # deleted meanwhile (its deliveries went with it)
        if not webhook.active:
            # Paused after the claim: no attempt is spent; the delivery stays PENDING, its
            # lease runs out and claims skip it until the webhook is resumed.
            return
        status: int | None = None
        error = ""
        try:
            await check_destination(webhook.url, allow_private=self.settings.allow_private)
            body = body_of(delivery.payload)
            response = await self._http().post(
                webhook.url,
                content=body,
                headers=headers_for(delivery.id, webhook.secret, body, event_of(delivery.payload)),
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {response.text[:200]}"
        except InvalidArgument as exc:
            error = exc.message
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        succeeded = not error
        now = datetime.now(UTC)
        following = None if succeeded else next_attempt_at(self.settings, delivery.attempts, now)
        try:
            await self.store.record_delivery_attempt(
                delivery.id,
                at=now,
                status_code=status,
                error=error[:MAX_ERROR],
                succeeded=succeeded,
                next_attempt_at=following,
            )
        except NotFound:
            return  # the webhook was deleted while we sent
        if not succeeded:
            log.info(
                "webhook delivery %s to %s failed (attempt %d): %s",
                delivery.id,
                webhook.url,
                delivery.attempts + 1,
                error,
            )
