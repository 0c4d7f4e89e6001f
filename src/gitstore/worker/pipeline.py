"""The chunk pipeline of a chunked projection: fetch, prepare and apply overlap.

A chunked projection (``projector``) has three stages per chunk: **fetch** its blobs from
the git service (a wait on another process), **prepare** them (parse, validate, encode: CPU
in a thread of this process) and **apply** the batch (a wait on the KV server). Done one
after another they add up; the waits leave this process's core idle. :class:`Pipeline`
runs them as a pipeline over *parts* (a part is a chunk, or a piece of one):

* fetches run one at a time, in order, part ``k`` as soon as part ``k - 1`` is fetched;
* prepares run one at a time, in order, part ``k`` once it is fetched and part ``k - 1``
  prepared (re-index chunks of rule-based collections need every earlier chunk adjusted,
  ``collections``; its cursor is read in order);
* the caller applies chunks in order, taking each chunk's parts with :meth:`Pipeline.take`.

**Depth (the memory bound).** When the caller asks for chunk ``n`` (to apply it next), the
parts of chunks up to ``n + depth`` are started; nothing later. So while chunk ``n`` is
applied, chunk ``n + 1`` is prepared and (``depth`` 2, the default:
``GITSTORE_WORKER__PIPELINE_DEPTH``) chunk ``n + 2`` fetched; at most ``depth + 1`` chunks'
blobs and prepared writes are held. ``depth`` 1 is about the one-deep pipeline of before:
the next chunk fetched and prepared while this one is applied.

**The fill.** The first chunk may be cut into ``first`` pieces (the projector does so when
it prepares in a thread): parsing starts when the first piece has arrived instead of when
the whole chunk has, and the pieces' writes are joined into the chunk's one batch.

**Failures.** A failed stage fails the part, the caller sees the exception when it takes
that chunk (in order: an earlier chunk is applied first). :meth:`close` (also on leaving the
``async with``) cancels every stage still running and waits for it, and retrieves the
exception of every stage that failed, so nothing keeps running past the projection and no
"exception was never retrieved" is logged; a chunk that is not applied leaves no trace
(claims and CAS: ``claims``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Generic, TypeVar

P = TypeVar("P")  # a part's work, as the caller describes it
F = TypeVar("F")  # a fetched part
R = TypeVar("R")  # a prepared part

DEFAULT_DEPTH = 2


class Pipeline(Generic[P, F, R]):
    """Fetch and prepare the parts of ``chunks`` ahead of the caller (see the module doc).

    ``chunks[n]`` is the list of parts of chunk ``n``; ``fetch(part)`` and
    ``prepare(part, fetched)`` are the two stages.
    """

    def __init__(
        self,
        chunks: Sequence[Sequence[P]],
        fetch: Callable[[P], Awaitable[F]],
        prepare: Callable[[P, F], Awaitable[R]],
        *,
        depth: int = DEFAULT_DEPTH,
    ) -> None:
        if depth < 1:
            raise ValueError("a pipeline is at least one chunk deep")
        self.chunks = [list(parts) for parts in chunks]
        self.depth = depth
        self._fetch = fetch
        self._prepare = prepare
        self._fetched: list[asyncio.Task[F]] = []
        self._prepared: list[asyncio.Task[R]] = []
        self._started = 0  # chunks whose parts were started
        self._taken = 0

    async def __aenter__(self) -> Pipeline[P, F, R]:
        self.start(self.depth)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self, upto: int) -> None:
        """Start the parts of every chunk below ``upto`` not started yet."""
        while self._started < min(upto, len(self.chunks)):
            for part in self.chunks[self._started]:
                before_f = self._fetched[-1] if self._fetched else None
                before_p = self._prepared[-1] if self._prepared else None
                fetched = asyncio.ensure_future(self._fetch_after(before_f, part))
                self._fetched.append(fetched)
                self._prepared.append(
                    asyncio.ensure_future(self._prepare_after(before_p, fetched, part))
                )
            self._started += 1

    async def take(self) -> list[R]:
        """The prepared parts of the next chunk (raises its stage's failure); starts the
        chunk ``depth`` further on."""
        n = self._taken
        if n >= len(self.chunks):
            raise IndexError("every chunk was taken")
        self._taken += 1
        self.start(n + 1 + self.depth)
        first = sum(len(parts) for parts in self.chunks[:n])
        return [await task for task in self._prepared[first : first + len(self.chunks[n])]]

    async def close(self) -> None:
        """Cancel what still runs, wait for it, and retrieve every failure (no news)."""
        tasks = [*self._fetched, *self._prepared]
        for task in tasks:
            if not task.done():
                task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled():
                task.exception()

    @property
    def running(self) -> int:
        """Stages started and not finished (for tests and the bound)."""
        return sum(not t.done() for t in [*self._fetched, *self._prepared])

    async def _fetch_after(self, before: asyncio.Task[F] | None, part: P) -> F:
        if before is not None:
            await asyncio.wait([before])  # its failure is its own part's
        return await self._fetch(part)

    async def _prepare_after(
        self, before: asyncio.Task[R] | None, fetched: asyncio.Task[F], part: P
    ) -> R:
        got = await fetched
        if before is not None:
            await asyncio.wait([before])
        return await self._prepare(part, got)
