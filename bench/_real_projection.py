"""The real projection beside ``bench_projection_bound``'s bound, in the same run (issue 16).

``RealProjection`` builds one bare repository holding the bound's products (the same YAML
bytes, at ``_products.product_path``, one commit, ``git fast-import``), starts a real
``gitstore git-service`` subprocess on it, and projects it with the worker's own
``Projector.project`` (the draft, every check: schema, references, rules, ordering, statuses;
default batch size, prepared in a thread, no prepared cache) into a fresh, empty KV store of
the backend each time ``once`` is called: the seconds of a first projection of the commit.

``processes`` > 0 prepares each chunk on that many worker processes instead
(``PreparePool``, ``GITSTORE_WORKER__PREPARE_PROCESSES``), started before the clock runs (a
worker keeps its pool): no longer the single-process figure the bound is compared with.
"""

from __future__ import annotations

import time
from pathlib import Path

import _products
from _service import GitServiceProcess
from profile_projection import KvFactory, build_repo

from gitstore.git.client import GitClient
from gitstore.worker.pool import PreparePool
from gitstore.worker.projector import Projector

REPOSITORY = "bench/catalog"


class RealProjection:
    def __init__(self, scratch: Path, texts: list[bytes], processes: int = 0) -> None:
        self.scratch = scratch / "real"
        repos = self.scratch / "repos"
        (repos / "bench").mkdir(parents=True)
        entries = ((_products.product_path(i), text) for i, text in enumerate(texts))
        build_repo(repos / "bench" / "catalog.git", entries)
        self.count = len(texts)
        self.service = GitServiceProcess(self.scratch, repos)
        self.service.start([REPOSITORY])
        self.runs = 0
        self.pool = PreparePool(processes)

    async def once(self, backend: str) -> float:
        """Seconds of one ``Projector.project`` of the commit into an empty KV of ``backend``."""
        self.runs += 1
        (self.scratch / f"kv-{self.runs}").mkdir()
        kvs = KvFactory(backend, self.scratch / f"kv-{self.runs}")  # a fresh, empty store
        try:
            async with GitClient(self.service.address, timeout=600) as git:
                await git.resolve_revision(REPOSITORY, "HEAD")  # the channel is up
                kv = await kvs.fresh()
                await self.pool.warm()
                projector = Projector(git, kv, owner="bench", pool=self.pool)
                started = time.perf_counter()
                result = await projector.project(REPOSITORY)
                seconds = time.perf_counter() - started
            if result.upserts != self.count or result.invalid:
                raise RuntimeError(f"projected {result.upserts}, invalid: {result.invalid[:1]}")
            return seconds
        finally:
            await kvs.close()

    def stop(self) -> None:
        self.pool.shutdown()
        self.service.stop()
