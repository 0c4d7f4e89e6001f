"""Conversion for asyncio code: hooks run in a bounded thread pool, never on the event loop.

Running wasm blocks the calling thread for as long as the hook runs (up to its deadline), so
``AsyncHookRunner.convert`` hands the call to a ``ThreadPoolExecutor`` of ``max_workers``
threads (default 2: conversions are CPU-bound, and wasmtime releases the GIL while wasm runs,
so they do run in parallel) and awaits it. At most ``max_pending`` calls may wait for a
worker; one more is refused at once with ``Unavailable`` (retryable), so a burst of writes
queues a bounded amount of work instead of piling up memory and latency.

Cancelling the awaiting task does not stop a hook mid-run (wasmtime cannot be interrupted
from outside without the epoch): the run ends within its limits and its result is dropped.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitstore.domain.conversion import ConversionRequest, HookRunner
from gitstore.domain.errors import Unavailable


class AsyncHookRunner:
    """``await convert(request, module)`` without blocking the event loop."""

    def __init__(self, runner: HookRunner, *, max_workers: int = 2, max_pending: int = 64) -> None:
        if max_workers < 1 or max_pending < 0:
            raise ValueError("max_workers must be at least 1 and max_pending at least 0")
        self._runner = runner
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="wasm-hook")
        self._capacity = max_workers + max_pending
        self._inflight = 0
        self._lock = threading.Lock()

    @property
    def inflight(self) -> int:
        return self._inflight

    async def convert(self, request: ConversionRequest, module: bytes) -> list[dict[str, Any]]:
        with self._lock:
            if self._inflight >= self._capacity:
                raise Unavailable(
                    f"conversion hooks are busy ({self._inflight} conversions running or "
                    "waiting); retry shortly"
                )
            self._inflight += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._runner.convert, request, module)
        finally:
            with self._lock:
                self._inflight -= 1

    def close(self) -> None:
        """Wait for running conversions and stop the threads (the runner stays open)."""
        self._executor.shutdown(wait=True)
