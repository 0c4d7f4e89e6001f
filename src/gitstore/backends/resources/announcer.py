"""Publishing pokes without holding up the write that caused them.

A status or metadata write answers as soon as the store committed it; its poke is handed to
an ``Announcer``, which publishes in the background. Pokes carry only "repository X is at
version >= v" (watch caches then read ``changes_since`` from the store), so the announcer
*coalesces*: per repository it keeps the highest version not yet published, and one publish
covers every write that came before it. Under load that is one queue write per repository
per round trip of the queue instead of one per status write.

Semantics (a decision, docs/watch.md): at-most-once per write, at-least-once per *quiet*
repository - the newest version of every repository is published once the queue takes it.
A failed publish is retried (backoff up to ``MAX_BACKOFF`` seconds) unless a newer version
replaced it meanwhile (which is published instead). ``close`` flushes what is pending
(bounded by ``flush_seconds``). What is lost - the process died between the answer and the
publish, or the queue stayed down past the flush - costs watchers at most one bookmark
tick (``GITSTORE_WATCH__BOOKMARK_SECONDS``): every tick reads the store's current version,
so no change is ever missed, only seen later. A write's answer never waits on the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gitstore.backends.queue.base import Queue

from .poke import announce

log = logging.getLogger(__name__)

MAX_BACKOFF = 5.0


class Announcer:
    def __init__(self, queue: Queue | None, *, flush_seconds: float = 5.0) -> None:
        self.queue = queue
        self.flush_seconds = flush_seconds
        self._pending: dict[str, int] = {}  # repository -> highest version not yet published
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0  # pokes published (for tests and metrics)

    def start(self) -> None:
        if self._task is None and self.queue is not None:
            self._task = asyncio.create_task(self._run(), name="resource-announcer")

    def announce(self, repository: str, version: int) -> None:
        """Queue a poke for ``repository`` at ``version``; returns at once."""
        if self.queue is None:
            return
        if version > self._pending.get(repository, -1):
            self._pending[repository] = version
        self._wake.set()
        if self._task is None:
            self.start()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _publish_pending(self) -> bool:
        """Publish every pending poke once; True if all went out."""
        ok = True
        for repository, version in list(self._pending.items()):
            if await announce(self.queue, repository, version):
                self.published += 1
                if self._pending.get(repository) == version:  # no newer one came meanwhile
                    del self._pending[repository]
            else:
                ok = False
        return ok

    async def _run(self) -> None:
        delay = 0.1
        while True:
            await self._wake.wait()
            self._wake.clear()
            if await self._publish_pending():
                delay = 0.1
                continue
            with contextlib.suppress(TimeoutError):  # the queue failed: retry later
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.set()
            delay = min(delay * 2, MAX_BACKOFF)

    async def close(self) -> None:
        """Stop, after one last attempt to publish what is pending (bounded)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending and self.queue is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._publish_pending(), self.flush_seconds)
            if self._pending:
                log.warning(
                    "%d resource pokes not published at shutdown (watchers catch up on their"
                    " next bookmark tick)",
                    len(self._pending),
                )
