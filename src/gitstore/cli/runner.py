"""Running several long-lived services in one process, stopped together by a signal.

A ``Service`` has a ``name`` and async ``start()``/``stop()``. ``run_services`` starts them in
order on the running event loop, waits for SIGTERM or SIGINT (or the ``stop`` event), then
stops the started ones in reverse order; a failing start stops the ones already running and
re-raises. Stopping is bounded: a service that does not stop within ``STOP_TIMEOUT`` is
logged (with where its tasks wait) and left behind, and a watchdog ends the process with
status 1 (after printing every thread's stack) if it still runs ``SHUTDOWN_DEADLINE`` after
the signal (``deadline=``; set by the commands) — an operator's SIGTERM always ends it,
and a hang leaves a diagnosis.

Services whose work is blocking (the gRPC git service runs on threads) wrap it
with ``asyncio.to_thread``; asyncio services (the API under uvicorn, the worker) run on this
loop. ``gitstore serve`` is a list of these; single-service commands are a list of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import io
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)

# A service gets this long to stop; the whole process this long to end after the signal.
STOP_TIMEOUT = 20.0
SHUTDOWN_DEADLINE = 45.0


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_services(
    services: Sequence[Service],
    *,
    stop: asyncio.Event | None = None,
    deadline: float | None = None,
) -> None:
    """Run ``services`` until a signal (or ``stop``); ``deadline``: arm the exit watchdog
    (the ``gitstore`` commands do; code embedding the runner in a longer-lived process
    must not)."""
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
        if started and deadline is not None:
            _watchdog(deadline)
        for service in reversed(started):
            try:
                await asyncio.wait_for(service.stop(), STOP_TIMEOUT)
            except TimeoutError:
                log.error(
                    "%s did not stop within %.0f s; going on without it:\n%s",
                    service.name,
                    STOP_TIMEOUT,
                    _task_stacks(),
                )
            except Exception:
                log.exception("%s did not stop cleanly", service.name)
            else:
                log.info("%s stopped", service.name)
        for sig in handled:
            loop.remove_signal_handler(sig)


def _task_stacks() -> str:
    """Where every pending asyncio task of this loop waits (for a stuck shutdown)."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(limit=8, file=out)
    return out.getvalue()


def _watchdog(deadline: float) -> None:
    """Make sure a stopping process ends: if it still runs ``deadline`` seconds after the
    stop began (a service, a thread or the interpreter's exit hangs), print every thread's
    stack to stderr and exit with status 1. A daemon thread: it never delays a clean exit."""

    def expire() -> None:
        log.error("still not stopped %.0f s after the signal; exiting (stacks follow)", deadline)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(deadline, expire)
    timer.daemon = True
    timer.start()
