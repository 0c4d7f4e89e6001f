"""Running several long-lived services in one process, stopped together by a signal.

A ``Service`` has a ``name`` and async ``start()``/``stop()``. ``run_services`` starts them in
order on the running event loop, waits for SIGTERM or SIGINT (or the ``stop`` event), then
stops the started ones in reverse order; a failing start stops the ones already running and
re-raises. Services whose work is blocking (the gRPC git service runs on threads) wrap it
with ``asyncio.to_thread``; asyncio services (the API under uvicorn, the worker) run on this
loop. ``gitstore serve`` is a list of these; single-service commands are a list of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_services(services: Sequence[Service], *, stop: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop_event = stop if stop is not None else asyncio.Event()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop_event.set)
            handled.append(sig)
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
            log.info("%s started", service.name)
        await stop_event.wait()
        log.info("stopping")
    finally:
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:
                log.exception("%s did not stop cleanly", service.name)
            else:
                log.info("%s stopped", service.name)
        for sig in handled:
            loop.remove_signal_handler(sig)
