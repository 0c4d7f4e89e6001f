"""The fetch loop every queue consumer of the worker runs (events, shared chunks).

At most ``concurrency`` messages are in flight: the loop fetches as many as there are free
slots, starts a task per message (``_process``, the subclass's), and waits for a slot when
all are taken. A failed fetch is handed to ``_fetch_failed``, which either re-raises (the
loop ends) or says how long to wait before the next try; the wait ends early on ``stop()``.
On the way out, in-flight tasks get ``grace`` seconds, then are cancelled — their messages
stay unacknowledged and are redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gitstore.backends.queue.base import Message, Queue
from gitstore.domain.errors import GitStoreError

log = logging.getLogger(__name__)


class FetchLoop:
    noun = "message"  # in the log line about cancelled work

    def __init__(
        self,
        queue: Queue,
        *,
        group: str,
        name: str,
        concurrency: int,
        max_deliveries: int,
        fetch_timeout: float,
    ) -> None:
        self.queue = queue
        self.group = group
        self.name = name
        self.concurrency = concurrency
        self.max_deliveries = max_deliveries
        self.fetch_timeout = fetch_timeout
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()

    def stop(self) -> None:
        """Stop fetching; ``run`` returns once in-flight work is done (or cancelled)."""
        self._stopping.set()
        self._slot_free.set()

    async def run(self, *, grace: float = 10.0) -> None:
        """Fetch and process messages until ``stop()``."""
        failures = 0
        try:
            while not self._stopping.is_set():
                free = self.concurrency - len(self._inflight)
                if free <= 0:
                    self._slot_free.clear()
                    await self._slot_free.wait()
                    continue
                try:
                    messages = await self.queue.fetch(
                        self.group,
                        self.name,
                        max_messages=free,
                        timeout=self.fetch_timeout,
                        max_deliveries=self.max_deliveries,
                    )
                except GitStoreError as exc:
                    failures += 1
                    await self._sleep(self._fetch_failed(exc, failures))
                    continue
                failures = 0
                for message in messages:
                    task = asyncio.create_task(self._process(message))
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
        finally:
            await self._drain(grace)

    def _fetch_failed(self, exc: GitStoreError, failures: int) -> float:
        """Seconds to wait before fetching again after ``failures`` failed fetches in a row;
        raise to end the loop."""
        raise exc

    async def _process(self, message: Message) -> None:
        raise NotImplementedError

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot_free.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _drain(self, grace: float) -> None:
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "cancelled %d unfinished %s(s); they will be redelivered", len(pending), self.noun
            )
            await asyncio.wait(pending)
