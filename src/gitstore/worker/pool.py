"""Preparing large chunks on a small process pool: the CPU-bound part off the one GIL.

Parsing, validating and encoding a manifest (``parsing.prepare_many``) is Python CPU work —
~0.25-0.45 ms per product — and in one process it shares one core with the event loop,
gRPC and the KV writer. With ``processes`` > 0 a chunk of at least ``min_files`` files (a
large projection) is split over that many worker processes; smaller chunks run in a thread,
because the round trip (pickling the files out and the encoded upserts back, ~20-40 µs per
file) and the start-up (~1 s per process) only pay off at volume.

Off by default (``GITSTORE_WORKER__PREPARE_PROCESSES=0``): on the 2-core machine this was
measured on, with the git service, the KV writer and other processes on the same cores, a
10,000-product projection with 2 processes was no faster than with one thread (1,400-1,560
vs 1,560-1,890 products/s in interleaved runs; see docs/projection.md, "Throughput"). It is
for machines with cores to spare.

* Processes are started with ``spawn`` (never ``fork``: the worker runs gRPC threads),
  lazily on first use, or ahead of time by ``warm()``; each builds the built-in kind
  registry once. Only a registry of built-in kinds is sent to the pool (custom kinds carry
  compiled validators that cannot be pickled): ``accepts(registry)`` says whether it may be.
* Results are exactly ``prepare_many``'s, in order. A pool that breaks (a child killed) is
  dropped, logged, and the chunk prepared in a thread; the next large chunk starts a new one.
* A chunk is prepared with fewer garbage collections (``gcpace.fewer_collections``, the
  young threshold at ``gc_gen0``: ``GITSTORE_WORKER__GC_GEN0_THRESHOLD``), in the thread
  and in the children alike.
* ``close()`` shuts the children down; a worker that dies leaves them to exit when their
  pipe to it closes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool

from gitstore.domain.content import KindRegistry, PathIdentity
from gitstore.gcpace import DEFAULT_GEN0, fewer_collections
from gitstore.worker.parsing import Prepared, prepare_many

log = logging.getLogger(__name__)

File = tuple[str, str, bytes]  # (path, blob id, content)

_registry: KindRegistry | None = None


def _prepare_in_child(
    files: Sequence[File],
    max_bytes: int,
    identities: Sequence[PathIdentity | None] | None = None,
    gc_gen0: int = 0,
) -> list[Prepared]:
    global _registry
    if _registry is None:
        _registry = KindRegistry.builtin()
    return _prepare(files, _registry, max_bytes, identities, gc_gen0)


def _prepare(
    files: Sequence[File],
    registry: KindRegistry,
    max_bytes: int,
    identities: Sequence[PathIdentity | None] | None,
    gc_gen0: int,
) -> list[Prepared]:
    with fewer_collections(gc_gen0):
        return prepare_many(files, registry, max_bytes=max_bytes, identities=identities)


def _ready() -> bool:
    _prepare_in_child([], 0)
    return True


class PreparePool:
    """``prepare_many`` of large chunks on ``processes`` processes (0 = always a thread)."""

    def __init__(
        self, processes: int = 2, *, min_files: int = 1000, gc_gen0: int = DEFAULT_GEN0
    ) -> None:
        self.processes = max(0, processes)
        self.min_files = min_files
        self.gc_gen0 = gc_gen0  # young-generation GC threshold while preparing (``gcpace``)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    @staticmethod
    def accepts(registry: KindRegistry) -> bool:
        """Whether chunks checked against ``registry`` may go to the pool."""
        return all(definition.builtin for definition in registry)

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    async def warm(self) -> None:
        """Start the processes now (each imports gitstore and builds the registry)."""
        if self.processes:
            loop = asyncio.get_running_loop()
            pool = self._executor()
            await asyncio.gather(
                *(loop.run_in_executor(pool, _ready) for _ in range(self.processes))
            )

    async def prepare(
        self,
        files: Sequence[File],
        registry: KindRegistry,
        *,
        max_bytes: int,
        identities: Sequence[PathIdentity | None] | None = None,
    ) -> list[Prepared]:
        """``prepare_many(files, registry, identities=...)``: on the pool when worth it, else
        in a thread."""
        if not files:
            return []
        if self.processes and len(files) >= self.min_files and self.accepts(registry):
            try:
                return await self._on_pool(files, max_bytes, identities)
            except BrokenProcessPool as exc:
                log.warning("prepare pool broke (%s); preparing this chunk in a thread", exc)
                self._drop()
        return await asyncio.to_thread(
            _prepare, files, registry, max_bytes, identities, self.gc_gen0
        )

    async def _on_pool(
        self,
        files: Sequence[File],
        max_bytes: int,
        identities: Sequence[PathIdentity | None] | None,
    ) -> list[Prepared]:
        loop = asyncio.get_running_loop()
        pool = self._executor()
        size = -(-len(files) // self.processes)
        starts = range(0, len(files), size)
        done = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    _prepare_in_child,
                    files[i : i + size],
                    max_bytes,
                    None if identities is None else identities[i : i + size],
                    self.gc_gen0,
                )
                for i in starts
            )
        )
        return [item for part in done for item in part]

    def _drop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def shutdown(self) -> None:
        """Stop the processes (waits for them; ``close`` does this off the event loop)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def close(self) -> None:
        await asyncio.to_thread(self.shutdown)
