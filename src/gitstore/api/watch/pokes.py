"""Feeding the watch cache from the queue: every ``ResourceChangedEvent`` poke, in every process.

The resource store publishes a poke on the stream ``GITSTORE_RESOURCES__STREAM`` (``resources``)
after each committed write. Each API process must see every poke, so each reads the stream
in a consumer group of its own (consumers inside one group would share the pokes):
``GITSTORE_WATCH__GROUP``, or by default ``watch-<host>-<pid>``. A new group starts at the
beginning of the stream; old pokes cost a lookup each (repositories nobody watches here are
ignored, watched ones are read from the store once).

Cleanup: a default (per-pid) group is left behind when its process ends. The stream is
opened with ``group_idle_expiry`` (``GITSTORE_RESOURCES__STREAM_GROUP_IDLE_EXPIRY``, 1 h), so
every backend deletes a group nobody fetched from for that long; this consumer fetches at
least every second, so its own group stays. Should a stalled process lose its group, the next
fetch creates it again at the start of the (bounded) stream: a few old pokes, read again,
harmlessly. A stable name per replica (``GITSTORE_WATCH__GROUP``) still saves the churn.

A poke that is not a ``ResourceChangedEvent`` is logged and acked (it can never become one).
Queue outages are logged and retried with backoff; the cache's bookmark tick still reads the
store's current version meanwhile, so watches keep going, only slower.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
from collections.abc import Callable

from gitstore.backends.queue.base import Queue
from gitstore.domain.errors import GitStoreError
from gitstore.domain.events import RESOURCE_CHANGED, ResourceChangedEvent

from .cache import WatchCache

log = logging.getLogger("gitstore.api.watch")


def default_group() -> str:
    """``watch-<host>-<pid>``, cut to a valid group name."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40] or "host"
    return f"watch-{host}-{os.getpid()}"


class PokeConsumer:
    def __init__(
        self,
        queue: Queue,
        cache: WatchCache,
        group: str,
        on_poke: Callable[[], object] | None = None,
    ) -> None:
        self.queue = queue
        self._on_poke = on_poke or (lambda: None)
        self.cache = cache
        self.group = group or default_group()
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="watch-pokes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        delay = 0.1
        while True:
            try:
                messages = await self.queue.fetch(
                    self.group, self.consumer, max_messages=256, timeout=1.0
                )
                delay = 0.1
            except GitStoreError as exc:
                log.warning("watch pokes: cannot read %s: %s", self.queue.stream, exc.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Exception:  # a bug or an unmapped backend error must not end the reader
                log.exception("watch pokes: reading %s failed; retrying", self.queue.stream)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for message in messages:
                self._handle(message.body)
            for message in messages:
                try:
                    await self.queue.ack(self.group, message.id)
                except GitStoreError as exc:  # redelivered later: a poke twice is harmless
                    log.warning("watch pokes: ack failed: %s", exc.message)

    def _handle(self, body: bytes) -> None:
        try:
            event = ResourceChangedEvent.from_json(body)
            if event.type != RESOURCE_CHANGED:
                raise ValueError(f"type {event.type!r}")
            version = int(event.resource_version)
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            log.error("watch pokes: ignoring a message that is no ResourceChangedEvent: %s", exc)
            return
        self._on_poke()
        self.cache.poke(event.repository_id, version)
