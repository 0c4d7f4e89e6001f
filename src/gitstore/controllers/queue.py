"""The work queue: deduplicated keys, per-key exponential backoff, an overall rate limit.

As in client-go's workqueue: a key is in the queue at most once; a key being processed is
not handed to a second worker — if it is added meanwhile it is marked *dirty* and queued
again when the worker calls :meth:`done`. :meth:`add_after` queues a key later (requeue-
after); :meth:`add_rate_limited` queues it after the larger of its own backoff
(``base · 2^failures``, capped at ``max_delay``) and the overall token bucket (``qps``,
``burst``); :meth:`forget` resets its failures after a success.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    pass


class WorkQueue(Generic[K]):
    def __init__(
        self,
        *,
        base_delay: float = 0.005,
        max_delay: float = 300.0,
        qps: float = 50.0,
        burst: int = 100,
    ) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        if qps <= 0 or burst < 1:
            raise ValueError("need qps > 0 and burst >= 1")
        self.base_delay, self.max_delay = base_delay, max_delay
        self._qps, self._burst = qps, burst
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self._ready: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None

    # ---------------------------------------------------------------- adding
    def add(self, key: K) -> None:
        if self._closed:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._ready.append(key)
        self._notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        if self._closed:
            return
        heapq.heappush(self._delayed, (time.monotonic() + delay, next(self._seq), key))
        self._arm()

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after its backoff; the delay chosen."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = max(self.backoff(failures), self._bucket_delay())
        self.add_after(key, delay)
        return delay

    def backoff(self, failures: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2.0 ** min(failures, 60)))

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def _bucket_delay(self) -> float:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._qps)
        self._refilled = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self._qps

    # ---------------------------------------------------------------- taking
    async def get(self) -> K:
        """The next key (it is *processing* until :meth:`done`); ``QueueShutDown`` once the
        queue is shut down."""
        while not self._ready:
            if self._closed:
                raise QueueShutDown
            self._wakeup.clear()
            await self._wakeup.wait()
        key = self._ready.popleft()
        self._queued.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def __len__(self) -> int:
        return len(self._ready)

    @property
    def depth(self) -> int:
        """Keys waiting: ready plus delayed."""
        return len(self._ready) + len(self._delayed)

    def shut_down(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._notify()

    # ---------------------------------------------------------------- plumbing
    def _notify(self) -> None:
        self._wakeup.set()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self._delayed:
            self._timer = None
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._delayed[0][0] - time.monotonic())
        self._timer = loop.call_later(delay, self._release)

    def _release(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            self.add(key)
        self._arm()
