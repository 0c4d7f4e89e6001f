"""The API side of a finished publication: consume ``PublishedEvent``s, record the outcome,
queue the webhook deliveries.

The worker reports every publication it finished on ``published_stream(<events stream>)``.
Every API replica reads it in the one consumer group ``api-publications`` (so each event is
handled by one replica) and, per event:

1. ``complete_publication(state, changed, error)`` — idempotent for the same state, so a
   redelivered event changes nothing; an event for a publication or repository that no longer
   exists, or one that contradicts a recorded outcome (``FAILED_PRECONDITION``), is logged and
   dropped;
2. for a PUBLISHED outcome, one delivery per *active* webhook of the repository with the
   ``release.published`` payload (``signing.published_payload``), due now —
   ``create_delivery`` is idempotent per (webhook, publication), so redelivery does not
   duplicate deliveries; then the dispatcher is woken.

Only after both steps is the message acked: at-least-once all the way. A store that is down
(or any unexpected failure) leaves the message un-acked, so the queue hands it out again after
its ``ack_wait``; an undecodable message is logged and acked (it would never decode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime

from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.metadata.base_git import PublicationState
from gitstore.backends.queue.base import Message, Queue
from gitstore.domain.errors import PermanentError
from gitstore.domain.events import RELEASE_PUBLISHED, PublishedEvent

from .signing import published_payload

log = logging.getLogger("gitstore.api.webhooks")

GROUP = "api-publications"
BATCH = 20
FETCH_TIMEOUT = 1.0
MAX_PAUSE = 30.0


def consumer_name() -> str:
    return f"api-{socket.gethostname()}-{os.getpid()}"


class PublicationResults:
    def __init__(
        self,
        store: MetadataStore,
        queue: Queue,
        *,
        on_deliveries: Callable[[], None] = lambda: None,
        group: str = GROUP,
        consumer: str | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.group = group
        self.consumer = consumer or consumer_name()
        self._on_deliveries = on_deliveries

    async def handle(self, event: PublishedEvent) -> int:
        """Record one outcome; returns how many deliveries it queued (0 when not PUBLISHED)."""
        namespace, _, name = event.repository_id.partition("/")
        record = await self.store.get_repository_by_name(namespace, name)
        if record is None:
            log.warning("publication %d of %s: no such repository", event.sequence, namespace)
            return 0
        state = PublicationState(event.state)
        now = datetime.now(UTC)
        publication = await self.store.complete_publication(
            record.id,
            event.sequence,
            state=state,
            at=now,
            changed=tuple(event.changed),
            error=event.error,
        )
        if publication.state is not PublicationState.PUBLISHED:
            return 0
        published_at = publication.completed_at or now
        payload = published_payload(event, published_at)
        queued = 0
        for webhook in await self.store.list_webhooks(record.id):
            if not webhook.active:
                continue
            await self.store.create_delivery(
                webhook.id,
                publication_sequence=event.sequence,
                payload=payload,
                next_attempt_at=now,
            )
            queued += 1
        if queued:
            self._on_deliveries()
        return queued

    async def process(self, message: Message) -> None:
        """Handle and ack one message (see the module docstring for what stays un-acked)."""
        try:
            event = PublishedEvent.from_json(message.body)
            if event.type != RELEASE_PUBLISHED:
                raise ValueError(f"event type {event.type!r}")
            PublicationState(event.state)
        except (ValueError, TypeError, KeyError) as exc:
            log.error(
                "dropping undecodable message %s on %s: %s", message.id, self.queue.stream, exc
            )
            await self.queue.ack(self.group, message.id)
            return
        try:
            await self.handle(event)
        except PermanentError as exc:
            log.warning(
                "publication %d of %s: outcome %s not recorded: %s",
                event.sequence,
                event.repository_id,
                event.state,
                exc.message,
            )
        await self.queue.ack(self.group, message.id)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (checked between fetches of at most
        ``FETCH_TIMEOUT`` s) or cancelled; passing failures pause (doubling, at most 30 s)."""
        pause = 0.5
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                messages = await self.queue.fetch(
                    self.group, self.consumer, max_messages=BATCH, timeout=FETCH_TIMEOUT
                )
                for message in messages:
                    await self.process(message)
                pause = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consuming publication results failed; retrying in %.1fs", pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, MAX_PAUSE)
