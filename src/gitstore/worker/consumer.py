"""The queue consumer loop: leases events, runs the handler, acks or gives them back.

* **Group and name.** Every worker reads the stream in consumer group ``projector``
  (``settings.worker.group``), so the workers share the events; each has its own consumer
  name (``<host>-<pid>``), which says who holds a lease.
* **Concurrency.** Up to ``concurrency`` events are handled at once; a fetch asks for no
  more messages than there are free slots. Ref updates of one repository are handled one at
  a time (an ``asyncio.Lock`` per repository id, ``lock_key``), and so are its publication
  requests and its shadow re-indexes, each under a lock of their own (``<repo>#publish``,
  ``<repo>#reindex``): a release goes on beside a ref update of its repository, so it can wait
  for the draft projection of its commit and copy it (``release_copy``) instead of waiting
  for the whole ref update (commit status, resource sync); other repositories go on in
  parallel.
  Across processes the KV head compare-and-set keeps projections correct.
* **Leases.** While an event waits for its repository's lock and while its handler runs,
  its message's lease is extended every ``ack_wait / 3`` (``Queue.extend_lease``), so a
  handler slower than ``ack_wait`` (the first projection of a large repository) is not
  redelivered to another worker mid-way. Extending stops when the handler returns, fails or
  is cancelled - before the ack or nack. A failed extension is logged, never fatal: the
  handler goes on, and at worst the event is handled twice (handlers are convergent). A
  worker that dies or whose event loop is stuck stops extending, so its events come back after
  ``ack_wait``; a handler that awaits forever keeps its lease (handlers need timeouts).
* **Acks.** A message is acked only after its handler returned, i.e. after the KV batches
  and the commit status are written. A worker killed anywhere leaves the message leased; the
  queue hands it out again after ``ack_wait`` and the (convergent) handler redoes the work.
* **Errors.** A passing error (``RetryableError``: git service or KV unavailable, a lost
  race) is logged, waited out with exponential backoff by delivery count, then the message
  is nacked for redelivery. A permanent error (bad event, a refused write) makes the message
  *poison*. Unexpected exceptions and passing errors are retried until the message's
  ``max_deliveries``-th delivery failed; then it is poison too. A poison message is moved to
  the group's dead letters (``Queue.dead_letter``: kept with the reason, acked), logged at
  ERROR with the event and correlation id and counted, so it never blocks the stream;
  ``gitstore events dead-letters list|replay|drop`` shows, replays or deletes it.
* **Delivery budget.** ``fetch`` gets ``max_deliveries`` too: a message handed out more often
  than that - its workers died or hung while handling it, so no handler ever returned - is
  dead-lettered by the queue instead of being handled again.
* **Shutdown.** ``stop()`` ends fetching; in-flight events get ``grace`` seconds to finish,
  then are cancelled (their messages are redelivered: nothing is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from gitstore.backends.queue.base import Message, Queue
from gitstore.domain.errors import GitStoreError, PermanentError, RetryableError
from gitstore.worker.fetching import FetchLoop
from gitstore.worker.handler import Event, decode_event
from gitstore.worker.metrics import WorkerMetrics

log = logging.getLogger(__name__)

Handle = Callable[[Event], Awaitable[str]]


class KeyedLocks:
    """One ``asyncio.Lock`` per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


def backoff(delivery_count: int, *, base: float = 0.2, cap: float = 10.0) -> float:
    """Seconds to wait before giving a failed message back: 0.2, 0.4, 0.8, ... up to cap."""
    return float(min(cap, base * 2 ** max(0, delivery_count - 1)))


class Consumer(FetchLoop):
    noun = "event"

    def __init__(
        self,
        queue: Queue,
        handle: Handle,
        *,
        group: str,
        name: str,
        concurrency: int = 4,
        metrics: WorkerMetrics | None = None,
        max_deliveries: int = 10,
        fetch_timeout: float = 1.0,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            queue,
            group=group,
            name=name,
            concurrency=concurrency,
            max_deliveries=max_deliveries,
            fetch_timeout=fetch_timeout,
        )
        self.handle = handle
        self.metrics = metrics or WorkerMetrics()
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.clock = clock
        self.locks = KeyedLocks()

    def _fetch_failed(self, exc: GitStoreError, failures: int) -> float:
        if not isinstance(exc, RetryableError):
            raise exc
        delay = backoff(failures, base=self.backoff_base, cap=self.backoff_cap)
        log.warning("cannot fetch events (%s); retrying in %.1fs", exc.message, delay)
        return delay

    # ------------------------------------------------------------------ one message

    async def _process(self, message: Message) -> None:
        try:
            event = decode_event(message.body)
        except PermanentError as exc:
            await self._poison(message, None, exc)
            return
        if event.timestamp:
            age = max(0.0, self.clock() - event.timestamp)
            self.metrics.event_age_seconds.observe(age)
            self.metrics.queue_lag_seconds.set(age)
        try:
            lock = getattr(event, "lock_key", event.repository_id)  # a release, a reindex: own
            async with self._leased(message), self.locks.hold(lock):
                outcome = await self.handle(event)
        except RetryableError as exc:
            if message.delivery_count >= self.max_deliveries:
                await self._poison(message, event, exc, cause="budget")
            else:
                await self._retry(message, event, exc)
        except PermanentError as exc:
            await self._poison(message, event, exc)
        except Exception as exc:
            if message.delivery_count >= self.max_deliveries:
                await self._poison(message, event, exc, cause="budget")
            else:
                log.exception(
                    "event %s for %s failed unexpectedly (delivery %d of at most %d) "
                    "[correlation_id=%s]",
                    event.event_id,
                    event.repository_id,
                    message.delivery_count,
                    self.max_deliveries,
                    event.correlation_id,
                )
                await self._retry(message, event, exc)
        else:
            self.metrics.events.labels(outcome).inc()
            await self._ack(message)

    @contextlib.asynccontextmanager
    async def _leased(self, message: Message) -> AsyncIterator[None]:
        """Keep ``message`` leased while the body runs; stop extending on the way out."""
        keeper = asyncio.create_task(self._keep_leased(message))
        try:
            yield
        finally:
            keeper.cancel()
            await asyncio.wait([keeper])  # an outer cancellation still propagates

    async def _keep_leased(self, message: Message) -> None:
        every = self.queue.ack_wait / 3
        while True:
            await asyncio.sleep(every)
            try:
                extended = await self.queue.extend_lease(self.group, message.id)
            except GitStoreError as err:  # the queue is unreachable, say: try again next time
                log.warning(
                    "cannot extend the lease of message %s (%s); still handling it",
                    message.id,
                    err.message,
                )
                continue
            except Exception:
                log.exception(
                    "cannot extend the lease of message %s; still handling it", message.id
                )
                continue
            if not extended:
                log.warning(
                    "message %s lost its lease (it may be handled twice); still handling it",
                    message.id,
                )
                return

    async def _retry(self, message: Message, event: Event, exc: BaseException) -> None:
        self.metrics.events.labels("retried").inc()
        delay = backoff(message.delivery_count, base=self.backoff_base, cap=self.backoff_cap)
        if isinstance(exc, GitStoreError):
            log.warning(
                "event %s for %s will be retried in %.1fs: %s [correlation_id=%s]",
                event.event_id,
                event.repository_id,
                delay,
                exc.message,
                event.correlation_id,
            )
        await self._sleep(delay)
        try:
            await self.queue.nack(self.group, message.id)
        except GitStoreError as err:
            log.warning("cannot nack message %s (%s): redelivered later", message.id, err.message)

    async def _poison(
        self,
        message: Message,
        event: Event | None,
        exc: BaseException,
        *,
        cause: str = "permanent",
    ) -> None:
        self.metrics.events.labels("poison").inc()
        what = (
            f"event {event.event_id} for {event.repository_id} "
            f"[correlation_id={event.correlation_id}]"
            if event is not None
            else f"message {message.id} ({message.body[:200]!r})"
        )
        error = exc.message if isinstance(exc, GitStoreError) else repr(exc)
        if cause == "budget":
            reason = f"failed on delivery {message.delivery_count} of {self.max_deliveries}"
        else:
            reason = "failed for good"
        reason += f": {type(exc).__name__}: {error}"
        try:
            await self.queue.dead_letter(self.group, message, reason)
        except GitStoreError as err:
            log.warning("cannot dead-letter %s (%s); it will be delivered again", what, err.message)
            return
        self.metrics.dead_lettered.labels(cause).inc()
        log.error(
            "dead-lettered %s (message %s) after %d delivery(ies): %s",
            what,
            message.id,
            message.delivery_count,
            reason,
            exc_info=not isinstance(exc, GitStoreError),
        )

    async def _ack(self, message: Message) -> None:
        try:
            await self.queue.ack(self.group, message.id)
        except GitStoreError as err:
            log.warning("cannot ack message %s (%s): redelivered later", message.id, err.message)
