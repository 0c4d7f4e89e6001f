"""The two background loops of the API for releases: publication results and webhook
deliveries, started and stopped together by ``ApiServices``.

:class:`ReleaseBackground` runs :class:`~.results.PublicationResults` (consuming
``PublishedEvent``s in group ``api-publications``) and :class:`~.dispatcher.DeliveryDispatcher`
as asyncio tasks on the app's loop; the consumer wakes the dispatcher when it queued
deliveries. ``stop`` asks both to finish and waits for them, cancelling what is still running
after a few seconds (an abandoned webhook POST's delivery lease runs out and it is sent again
later).
"""

from __future__ import annotations

import asyncio
import logging

from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.queue.base import Queue
from gitstore.config import WebhookSettings

from .dispatcher import DeliveryDispatcher
from .results import PublicationResults

log = logging.getLogger(__name__)

# Seconds the loops get to finish on their own, then again once cancelled.
STOP_WAIT = 5.0


class ReleaseBackground:
    def __init__(self, store: MetadataStore, published: Queue, settings: WebhookSettings) -> None:
        self.dispatcher = DeliveryDispatcher(store, settings)
        self.results = PublicationResults(store, published, on_deliveries=self.dispatcher.wake)
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    def start(self) -> None:
        if self._tasks:
            return
        self._stop = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self.results.run(self._stop), name="gitstore-publication-results"),
            asyncio.create_task(
                self.dispatcher.run(self._stop), name="gitstore-webhook-dispatcher"
            ),
        ]

    async def stop(self) -> None:
        """Ask both loops to finish (each returns at its next check: within a fetch timeout or
        a webhook attempt), cancel what is still running after ``STOP_WAIT`` s, and wait for
        it at most ``STOP_WAIT`` s more. Cancelling is the fallback, not the rule: a task
        cancelled inside nats-py's ``next_msg`` was seen to never finish (Python 3.11's
        ``wait_for`` inside it), which kept the API from exiting."""
        tasks, self._tasks = self._tasks, []
        self._stop.set()
        self.dispatcher.wake()
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=STOP_WAIT)
            for task in running:
                task.cancel()
            if running:
                _, stuck = await asyncio.wait(running, timeout=STOP_WAIT)
                for task in stuck:
                    log.warning("%s did not stop; left behind", task.get_name())
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    log.error("%s failed", task.get_name(), exc_info=task.exception())
        await self.dispatcher.close()
