"""Reading the ref-update events the service published (from the queue in the data dir)."""

from __future__ import annotations

import time
from collections.abc import Callable

from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain.events import RefUpdateEvent


async def collect_events(
    settings: Settings,
    done: Callable[[list[RefUpdateEvent]], bool],
    *,
    timeout: float = 30.0,
    settle: float = 0.5,
) -> list[RefUpdateEvent]:
    """Fetch (and ack) events until ``done(events)``; then wait ``settle`` seconds for extras.

    Returns everything received, extras included, so callers can assert "exactly".
    """
    queue = await open_queue(settings.queue_url(), stream=settings.queue.stream)
    events: list[RefUpdateEvent] = []
    try:
        deadline = time.monotonic() + timeout
        while not done(events):
            assert time.monotonic() < deadline, f"timed out; got {events}"
            for message in await queue.fetch("tests", "t1", max_messages=100, timeout=0.5):
                events.append(RefUpdateEvent.from_json(message.body))
                await queue.ack("tests", message.id)
        for message in await queue.fetch("tests", "t1", max_messages=100, timeout=settle):
            events.append(RefUpdateEvent.from_json(message.body))
            await queue.ack("tests", message.id)
    finally:
        await queue.close()
    return events
