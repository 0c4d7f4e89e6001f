"""What the worker does with one ref-update event.

Events are hints, not instructions: any event of repository R means "R changed", so the
handler projects R's default branch head (``projector``; a no-op when the KV already holds
it, which makes redelivered, duplicated and late events harmless), then records the commit
status of the event's own commit (``statuses``), reusing what the projection parsed.
Events of other branches are projected the same way (the default branch is what gets
projected, whatever the event's ref) and get their commit's status; tag events only trigger
the convergence check.

A repository or head that no longer exists (``NotFound``) makes the event ``ignored``:
there is nothing left to project. Every other error propagates to the consumer, which
retries passing ones and drops permanent ones.
"""

from __future__ import annotations

import logging

from gitstore.domain.errors import InvalidArgument, NotFound
from gitstore.domain.events import RefUpdateEvent
from gitstore.domain.keys import validate_repository
from gitstore.worker.projector import Projector
from gitstore.worker.statuses import StatusRecorder

log = logging.getLogger(__name__)

PROJECTED = "projected"
UNCHANGED = "unchanged"
IGNORED = "ignored"


def decode_event(body: bytes) -> RefUpdateEvent:
    """Parse a queue message body; ``InvalidArgument`` naming the problem."""
    try:
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
    def __init__(self, projector: Projector, statuses: StatusRecorder) -> None:
        self.projector = projector
        self.statuses = statuses

    async def handle(self, event: RefUpdateEvent) -> str:
        """Project ``event``'s repository and record its commit status; the outcome."""
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
        return PROJECTED if result.changed else UNCHANGED
