"""What the worker does with one event: a ref update (project the default branch) or a
publication request (``publisher``).

Messages are told apart by their ``type`` field: ``release.publish`` is a ``PublishEvent``,
``reindex.requested`` a ``ReindexEvent`` (``shadow``: shadow re-indexing), anything else
(``ref.updated``, or no type: older messages) a ``RefUpdateEvent``.

Events are hints, not instructions: any event of repository R means "R changed", so the
handler projects R's default branch head (``projector``; a no-op when the KV already holds
it, which makes redelivered, duplicated and late events harmless), then records the commit
status of the event's own commit (``statuses``), reusing what the projection parsed, and
brings the resource store to what the draft now holds (``resources``; when configured),
after any release of the repository that is waiting for this draft or copying it
(``Publisher.copied``: in one process the two long passes would slow each other down, and
``live`` waits for the copy; the resource store only for the sync).
Events of other branches are projected the same way (the default branch is what gets
projected, whatever the event's ref) and get their commit's status; tag events only trigger
the convergence check.

A repository or head that no longer exists (``NotFound``) makes the event ``ignored``:
there is nothing left to project. Every other error propagates to the consumer, which
retries passing ones and drops permanent ones. A publication ends ``published``,
``superseded`` or ``failed`` (the publisher announces each on the published stream).
"""

from __future__ import annotations

import json
import logging

from gitstore.domain.errors import InvalidArgument, NotFound
from gitstore.domain.events import (
    PUBLISH_REQUESTED,
    REINDEX_REQUESTED,
    PublishEvent,
    RefUpdateEvent,
    ReindexEvent,
)
from gitstore.domain.keys import validate_repository
from gitstore.worker.projector import Projector
from gitstore.worker.publisher import Publisher
from gitstore.worker.resources import ResourceSync
from gitstore.worker.shadow import ShadowReindexer
from gitstore.worker.statuses import StatusRecorder

Event = RefUpdateEvent | PublishEvent | ReindexEvent

log = logging.getLogger(__name__)

PROJECTED = "projected"
UNCHANGED = "unchanged"
IGNORED = "ignored"


def decode_event(body: bytes) -> Event:
    """Parse a queue message body (by its ``type``); ``InvalidArgument`` naming the problem."""
    event: Event
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("type") == PUBLISH_REQUESTED:
            try:
                event = PublishEvent.from_json(body)
            except (ValueError, TypeError, AttributeError) as exc:
                raise InvalidArgument(f"not a publish event: {exc}", field="body") from None
        elif isinstance(data, dict) and data.get("type") == REINDEX_REQUESTED:
            try:
                event = ReindexEvent.from_json(body)
            except (ValueError, TypeError, AttributeError) as exc:
                raise InvalidArgument(f"not a reindex event: {exc}", field="body") from None
        else:
            event = RefUpdateEvent.from_json(body)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidArgument(f"not a ref-update event: {exc}", field="body") from None
    if not isinstance(event.repository_id, str):
        raise InvalidArgument("event has no repository_id", field="repository_id")
    try:
        validate_repository(event.repository_id)
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"event repository_id {event.repository_id!r} is not valid: {exc.message}",
            field="repository_id",
        ) from None
    return event


class EventHandler:
    def __init__(
        self,
        projector: Projector,
        statuses: StatusRecorder,
        publisher: Publisher | None = None,
        resources: ResourceSync | None = None,
        reindexer: ShadowReindexer | None = None,
    ) -> None:
        self.projector = projector
        self.statuses = statuses
        self.publisher = publisher
        self.resources = resources
        self.reindexer = reindexer or ShadowReindexer(projector)

    async def handle(self, event: Event) -> str:
        """Handle one event (see the module docstring); the outcome."""
        if isinstance(event, ReindexEvent):
            state = await self.reindexer.handle(event)
            return f"reindex-{state.lower()}"
        if isinstance(event, PublishEvent):
            if self.publisher is None:
                raise InvalidArgument(
                    f"publication {event.event_id} of {event.repository_id}: this worker has no "
                    "publisher",
                    field="type",
                )
            outcome = await self.publisher.publish(event)
            return outcome.state.lower()
        try:
            result = await self.projector.project(
                event.repository_id, correlation_id=event.correlation_id
            )
        except NotFound as exc:
            log.info(
                "event %s for %s ignored: %s [correlation_id=%s]",
                event.event_id,
                event.repository_id,
                exc.message,
                event.correlation_id,
            )
            return IGNORED
        try:
            await self.statuses.record(event, result.checked)
        except NotFound as exc:
            log.info(
                "no status for %s of %s: %s [correlation_id=%s]",
                event.new[:12],
                event.repository_id,
                exc.message,
                event.correlation_id,
            )
        if self.resources is not None:
            if self.publisher is not None:  # a release copying this draft goes first
                await self.publisher.copied(event.repository_id)
            # after the projection, whatever it did: the store may lag the draft (a sync
            # that failed after the projection succeeded is retried by the redelivery)
            await self.resources.sync(event.repository_id, correlation_id=event.correlation_id)
        return PROJECTED if result.changed else UNCHANGED
