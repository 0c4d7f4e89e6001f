"""The relay: publishes committed outbox rows to the event queue.

``OutboxRelay.run()`` is a coroutine. It opens the queue (``open_queue(settings.queue_url(),
stream=settings.queue.stream)``, retried with back-off while the queue is unreachable),
adopts rows left by dead processes, then loops: publish this process's committed rows in
order (key = repository id), delete them, sleep until woken by a commit or ``poll`` seconds
pass. Every ``adopt_every`` seconds it looks for orphaned rows again, so a crashed sibling
process on the same data dir is covered too. A failed publish leaves the row in place and
backs off; nothing is deleted before the queue confirmed it.

Where it runs: ``RelayThread`` gives it a private event loop in a daemon thread (what
``start_server`` uses, so a caller needs no loop), or a caller with its own loop schedules
``run()`` there. ``notify()`` is thread-safe: commits call it from gRPC worker threads.

``stop()`` asks the loop to finish: it publishes what is ready (within ``drain_seconds``)
and closes the queue. Whatever is left stays in the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from gitstore.backends.queue.base import Queue
from gitstore.domain.errors import GitStoreError
from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.outbox import Outbox, RefProbe
from gitstore.gitservice.storage import RepositoryStore

log = logging.getLogger(__name__)

QueueOpener = Callable[[], Awaitable[Queue]]


class StoreProbe:
    """``RefProbe`` over a ``RepositoryStore`` (string repository ids)."""

    def __init__(self, store: RepositoryStore) -> None:
        self._store = store

    def ref_target(self, repository_id: str, ref: str) -> str | None:
        try:
            return self._store.ref_target(RepositoryId.parse(repository_id), ref)
        except GitStoreError:
            return None

    def contains(self, repository_id: str, tip: str, commit: str) -> bool:
        try:
            return self._store.contains(RepositoryId.parse(repository_id), tip, commit)
        except GitStoreError:
            return False


class OutboxRelay:
    def __init__(
        self,
        outbox: Outbox,
        probe: RefProbe,
        open_queue: QueueOpener,
        *,
        poll: float = 1.0,
        adopt_every: float = 10.0,
        drain_seconds: float = 5.0,
    ) -> None:
        self._outbox = outbox
        self._probe = probe
        self._open_queue = open_queue
        self._poll = poll
        self._adopt_every = adopt_every
        self._drain_seconds = drain_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self.published = 0
        outbox.add_listener(self.notify)

    def notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(wake.set)

    def stop(self) -> None:
        self._stopping = True
        self.notify()

    async def _connect(self) -> Queue | None:
        delay = 0.2
        while not self._stopping:
            try:
                return await self._open_queue()
            except (GitStoreError, OSError) as exc:
                log.warning("event queue unavailable (%s); retrying in %.1fs", exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, 10.0)
        return None

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _publish_ready(self, queue: Queue) -> int:
        rows = await asyncio.to_thread(self._outbox.pending)
        done: list[int] = []
        try:
            for row in rows:
                await queue.publish(row.payload, key=row.repository_id)
                done.append(row.id)
        finally:
            await asyncio.to_thread(self._outbox.delete, done)
            self.published += len(done)
        return len(rows)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        queue = await self._connect()
        if queue is None:
            return
        try:
            next_adopt = 0.0
            delay = 0.2
            while not self._stopping:
                try:
                    if time.monotonic() >= next_adopt:
                        await asyncio.to_thread(self._outbox.adopt_orphans, self._probe)
                        next_adopt = time.monotonic() + self._adopt_every
                    if await self._publish_ready(queue):
                        delay = 0.2
                        continue
                    await self._sleep(self._poll)
                except Exception as exc:  # noqa: BLE001 - the relay must outlive any one failure
                    log.warning("publishing ref-update events failed (%r); retrying", exc)
                    await self._sleep(delay)
                    delay = min(delay * 2, 10.0)
            await self._drain(queue)
        finally:
            await queue.close()

    async def _drain(self, queue: Queue) -> None:
        deadline = time.monotonic() + self._drain_seconds
        with contextlib.suppress(GitStoreError, OSError):
            while time.monotonic() < deadline and await self._publish_ready(queue):
                pass


class RelayThread:
    """Runs an ``OutboxRelay`` on a private event loop in a daemon thread."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay
        self._thread = threading.Thread(target=self._main, name="outbox-relay", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self.relay.run())
        except Exception:
            log.exception("the outbox relay stopped with an error")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.relay.stop()
        self._thread.join(timeout)
