"""The relay: publishes committed outbox rows to the event queue.

``OutboxRelay.run()`` is a coroutine. It opens the queue (``open_queue(settings.queue_url(),
stream=settings.queue.stream)``, retried with back-off while the queue is unreachable),
adopts rows left by dead processes, then loops: publish this process's committed rows in
order (key = repository id), delete them, sleep until woken by a commit or ``poll`` seconds
pass. Every ``adopt_every`` seconds it looks for orphaned rows again, so a crashed sibling
process on the same data dir is covered too. Nothing is deleted before the queue confirmed it.

No row blocks the others for ever:

* **Too large.** A body over the queue's ``max_payload`` (a ref-update row written before
  events were size-bounded) is published in its reference form (``RefUpdateEvent.reference``:
  no changed paths; the worker diffs ``old -> new`` from Git).
* **Refused for good** (a ``PermanentError`` such as ``MessageTooLarge``): the row is moved to
  the outbox's dead letters at once (``Outbox.bury``), logged at ERROR and counted
  (``gitstore_outbox_dead_letters_total``; ``gitstore_outbox_dead_letters_kept`` is how many
  are kept); the rows behind it go on.
* **Passing failure** (``RetryableError``) of one row: the relay tries one row of another
  repository. If that fails too, the queue is down: the pass ends and the relay backs off, with
  every row kept. If it succeeds, the failure belongs to the row: its repository waits
  (``retry_base`` x 2^strikes seconds; its later rows keep their order behind it) while other
  repositories go on, and after ``max_strikes`` such failures the row is buried like a
  refused one.

``gitstore events dead-letters list|replay|drop`` shows, republishes or deletes buried rows.

Where it runs: ``RelayThread`` gives it a private event loop in a daemon thread (what
``start_server`` uses, so a caller needs no loop), or a caller with its own loop schedules
``run()`` there. ``notify()`` is thread-safe: commits call it from gRPC worker threads.

``stop()`` asks the loop to finish: it publishes what is ready (within ``drain_seconds``)
and closes the queue. Whatever is left stays in the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from gitstore.backends.queue.base import Queue
from gitstore.domain.errors import GitStoreError, PermanentError, RetryableError
from gitstore.domain.events import REF_UPDATE, RefUpdateEvent
from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.outbox import Outbox, RefProbe, Row
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


def fit_payload(payload: bytes, max_bytes: int) -> bytes:
    """``payload``, or the reference form of the ref-update event it holds if it is larger
    than ``max_bytes`` (unchanged when it is no ref-update event)."""
    if len(payload) <= max_bytes:
        return payload
    try:
        data = json.loads(payload)
        if not isinstance(data, dict) or data.get("type", REF_UPDATE) != REF_UPDATE:
            return payload
        return RefUpdateEvent.from_json(payload).reference().to_json()
    except (ValueError, TypeError):
        return payload


@dataclass(slots=True)
class _Suspect:
    strikes: int = 0
    retry_at: float = 0.0  # monotonic


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        self.dead_lettered = Counter(
            "gitstore_outbox_dead_letters",
            "Outbox rows set aside because they could not be published",
            registry=r,
        )
        self.dead = Gauge(
            "gitstore_outbox_dead_letters_kept",
            "Outbox rows waiting in the dead letters (list/replay/drop them)",
            registry=r,
        )


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
        max_strikes: int = 5,
        retry_base: float = 1.0,
        registry: CollectorRegistry | None = None,
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
        self.max_strikes = max_strikes
        self.retry_base = retry_base
        self.metrics = RelayMetrics(registry)
        self._suspects: dict[int, _Suspect] = {}
        self._waiting: dict[str, float] = {}  # repository -> monotonic time of its next try
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
        """One pass over the ready rows; how many left the outbox (published or buried).

        Raises the ``RetryableError`` of a pass in which nothing could be published."""
        now = time.monotonic()
        self._waiting = {repo: at for repo, at in self._waiting.items() if at > now}
        skip = set(self._waiting)
        rows = await asyncio.to_thread(self._outbox.pending, skip=skip)
        done: list[int] = []
        buried = 0
        failed: list[tuple[Row, RetryableError]] = []  # since the last success
        try:
            for row in rows:
                if row.repository_id in skip:
                    continue  # behind a failed row of its repository: keep the order
                try:
                    body = fit_payload(row.payload, queue.max_payload)
                    await queue.publish(body, key=row.repository_id)
                except PermanentError as exc:
                    await self._bury(row, exc.message)
                    buried += 1
                    continue
                except RetryableError as exc:
                    if failed:  # two rows in a row: the queue is down, not the row
                        raise failed[0][1] from None
                    failed.append((row, exc))
                    skip.add(row.repository_id)
                    continue
                done.append(row.id)
                self._suspects.pop(row.id, None)
                for suspect, error in failed:
                    buried += await self._strike(suspect, error)
                failed.clear()
            if failed and not done:
                raise failed[0][1]
        finally:
            await asyncio.to_thread(self._outbox.delete, done)
            self.published += len(done)
        return len(done) + buried

    async def _strike(self, row: Row, exc: RetryableError) -> int:
        """A row failed while the queue took another: wait, or bury it (returns 1)."""
        suspect = self._suspects.setdefault(row.id, _Suspect())
        suspect.strikes += 1
        if suspect.strikes >= self.max_strikes:
            await self._bury(row, f"failed {suspect.strikes} times: {exc.message}")
            return 1
        delay = min(60.0, self.retry_base * 2 ** (suspect.strikes - 1))
        self._waiting[row.repository_id] = time.monotonic() + delay
        log.warning(
            "event row %d of %s failed while others were published (%s); retrying it in %.1fs",
            row.id,
            row.repository_id,
            exc.message,
            delay,
        )
        return 0

    async def _bury(self, row: Row, reason: str) -> None:
        self._suspects.pop(row.id, None)
        await asyncio.to_thread(self._outbox.bury, row.id, reason)
        self.metrics.dead_lettered.inc()
        self.metrics.dead.set(await asyncio.to_thread(self._outbox.dead_count))
        log.error(
            "event row %d of %s (%d bytes) could not be published and was moved to the outbox "
            "dead letters: %s (see `gitstore events dead-letters list`)",
            row.id,
            row.repository_id,
            len(row.payload),
            reason,
        )

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        queue = await self._connect()
        if queue is None:
            return
        self.metrics.dead.set(await asyncio.to_thread(self._outbox.dead_count))
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
