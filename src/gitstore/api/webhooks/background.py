"""The two background loops of the API for releases: publication results and webhook
deliveries, started and stopped together by ``ApiServices``.

:class:`ReleaseBackground` runs :class:`~.results.PublicationResults` (consuming
``PublishedEvent``s in group ``api-publications``) and :class:`~.dispatcher.DeliveryDispatcher`
as asyncio tasks on the app's loop; the consumer wakes the dispatcher when it queued
deliveries. ``stop`` cancels both and waits for them (an in-flight webhook POST is abandoned;
its delivery's lease runs out and it is sent again later).
"""

from __future__ import annotations

import asyncio
import contextlib

from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.queue.base import Queue
from gitstore.config import WebhookSettings

from .dispatcher import DeliveryDispatcher
from .results import PublicationResults


class ReleaseBackground:
    def __init__(self, store: MetadataStore, published: Queue, settings: WebhookSettings) -> None:
        self.dispatcher = DeliveryDispatcher(store, settings)
        self.results = PublicationResults(store, published, on_deliveries=self.dispatcher.wake)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self.results.run(), name="gitstore-publication-results"),
            asyncio.create_task(self.dispatcher.run(), name="gitstore-webhook-dispatcher"),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.dispatcher.close()
