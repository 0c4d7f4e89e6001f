"""The chunk pipeline of a chunked projection (``worker/pipeline.py``) against a real git
service and a SQLite KV: a later chunk's fetch is in flight while an earlier chunk is
prepared and while one is written, fetches and prepares each run one at a time, no chunk is
fetched more than ``depth`` chunks ahead of the one written, and a failure anywhere in the
pipeline leaves no task behind and a state the next projection repairs."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import pytest

from gitstore.backends.kv import Batch, KvStore
from gitstore.domain.content import KindRegistry
from gitstore.domain.errors import Unavailable
from gitstore.domain.projection import (
    DRAFT_VIEW,
    PROJECTION_KIND,
    PROJECTION_MARKER,
    draft_view,
    standby_draft,
)
from gitstore.git.client import GitClient
from gitstore.worker.pipeline import Pipeline
from gitstore.worker.projector import Projector
from gitstore.worker.staging import Fetched
from gitstore.worker.targets import Ready, Work
from tests.worker.harness import assert_kv_matches_head, commit, files_of, product

N, BATCH = 60, 10  # six chunks
PATIENCE = 30.0  # a wait that only ends if the pipeline overlaps (else: a deadlock, failed)


class Watched(Projector):
    """Records each fetch and digest with its chunk; may hold a stage until a later chunk's
    fetch has started, or fail the fetch of one chunk."""

    def __init__(
        self,
        *args: Any,
        fail_fetch: int | None = None,
        fail_apply: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.items = 0  # work items fetched so far (fetches run in plan order)
        self.chunk_of: dict[str, int] = {}  # path -> chunk
        self.fetch_started: dict[int, asyncio.Event] = {}
        self.fetching = self.digesting = 0
        self.most_fetching = self.most_digesting = 0
        self.applied = 0  # data chunks written (not the claim)
        self.ahead: list[tuple[int, int]] = []  # (chunk fetched, data chunks written then)
        self.hold_digest: int | None = None  # chunk whose digest waits for chunk + 1's fetch
        self.fail_fetch = fail_fetch
        self.fail_apply = fail_apply

    def started(self, chunk: int) -> asyncio.Event:
        return self.fetch_started.setdefault(chunk, asyncio.Event())

    async def fetch(self, repository: str, work: Sequence[Work], registry: KindRegistry) -> Fetched:
        chunk = self.items // self.batch_size
        self.items += len(work)
        for item in work:
            if not isinstance(item, tuple):
                self.chunk_of[item.path] = chunk
        self.ahead.append((chunk, self.applied))
        self.started(chunk).set()
        self.fetching += 1
        self.most_fetching = max(self.most_fetching, self.fetching)
        try:
            if chunk == self.fail_fetch:
                raise Unavailable("injected: the git service went away")
            return await super().fetch(repository, work, registry)
        finally:
            self.fetching -= 1

    async def digest(
        self, repository: str, fetched: Fetched, registry: KindRegistry, at: str
    ) -> Ready:
        chunk = self.chunk_of[fetched.misses[0].path]
        self.digesting += 1
        self.most_digesting = max(self.most_digesting, self.digesting)
        try:
            if chunk == self.hold_digest:
                # a serial fetch -> prepare would start this fetch only after this digest
                await asyncio.wait_for(self.started(chunk + 1).wait(), PATIENCE)
            return await super().digest(repository, fetched, registry, at)
        finally:
            self.digesting -= 1

    async def apply(self, batch: Batch) -> None:
        data = any(u.kind != PROJECTION_KIND for u in batch.upserts)
        if data and self.applied == 0:
            # chunk 0 is written while chunk 2 is fetched (depth 2)
            await asyncio.wait_for(self.started(2).wait(), PATIENCE)
        if data and self.applied == self.fail_apply:
            raise RuntimeError("injected: the KV went away")
        await super().apply(batch)
        if data:
            self.applied += 1


class Unretrieved:
    """Collects what the loop reports as an exception never retrieved."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.loop = asyncio.get_running_loop()
        self.before = self.loop.get_exception_handler()
        self.loop.set_exception_handler(lambda _loop, context: self.reports.append(context))

    def done(self) -> list[dict[str, Any]]:
        gc.collect()
        self.loop.set_exception_handler(self.before)
        return self.reports


async def catalogue(git: GitClient, repo: str) -> str:
    done = await commit(git, repo, files_of(*(product(f"p{i:03d}") for i in range(N))))
    return done.commit_sha


def stages() -> list[asyncio.Task[Any]]:
    """The pipeline's tasks still alive (gRPC's own clean-up of a cancelled call aside)."""
    return [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "").startswith("Pipeline.")
    ]


async def test_fetch_of_later_chunks_overlaps_prepare_and_write(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    sha = await catalogue(git, repo)
    projector = Watched(git, kv, owner="pipelined", batch_size=BATCH, depth=2)
    projector.hold_digest = 1

    result = await projector.project(repo)

    assert result.version == sha and result.upserts == N and result.chunks == N // BATCH
    assert await assert_kv_matches_head(kv, git, repo) == sha
    # stages one at a time: the git service sees one request, this process parses one chunk
    assert (projector.most_fetching, projector.most_digesting) == (1, 1)
    # the memory bound: chunk k is fetched only once chunk k - depth is being written
    assert all(written >= chunk - 2 for chunk, written in projector.ahead)
    assert {chunk for chunk, _ in projector.ahead} == set(range(N // BATCH))


async def test_first_chunk_is_fetched_in_pieces(git: GitClient, kv: KvStore, repo: str) -> None:
    await catalogue(git, repo)
    projector = Watched(git, kv, owner="pieces", batch_size=BATCH * 2)

    await projector.project(repo)

    fetched = [chunk for chunk, _ in projector.ahead]
    assert fetched.count(0) == 4 and all(fetched.count(k) == 1 for k in range(1, N // BATCH // 2))


@pytest.mark.parametrize("failing", [2, 5])
async def test_a_failed_prefetch_cancels_cleanly_and_a_retry_converges(
    git: GitClient, kv: KvStore, repo: str, failing: int
) -> None:
    sha = await catalogue(git, repo)
    watch = Unretrieved()
    broken = Watched(git, kv, owner="pipelined", batch_size=BATCH, fail_fetch=failing)

    with pytest.raises(Unavailable, match="injected"):
        await broken.project(repo)

    assert not stages(), "a stage of the pipeline is still running"
    assert broken.applied == failing  # every chunk before the failed one written, in order
    assert watch.done() == []
    standby = standby_draft(draft_view(await kv.resolve(repo, DRAFT_VIEW)))
    marker = await kv.get(standby, PROJECTION_KIND, PROJECTION_MARKER)
    assert marker is not None  # an unfinished claim, the next projection takes it over
    retry = Projector(git, kv, owner="pipelined", batch_size=BATCH)
    assert (await retry.project(repo)).version == sha
    assert await assert_kv_matches_head(kv, git, repo) == sha


async def test_a_failed_write_cancels_the_chunks_ahead(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    sha = await catalogue(git, repo)
    watch = Unretrieved()
    broken = Watched(git, kv, owner="pipelined", batch_size=BATCH, fail_apply=1)

    with pytest.raises(RuntimeError, match="injected: the KV"):
        await broken.project(repo)

    assert not stages(), "a stage of the pipeline is still running"
    assert watch.done() == []
    retry = Projector(git, kv, owner="pipelined", batch_size=BATCH)
    assert (await retry.project(repo)).version == sha
    assert await assert_kv_matches_head(kv, git, repo) == sha


async def test_the_pipeline_hands_chunks_in_order_and_retrieves_failures() -> None:
    log: list[str] = []

    async def fetch(part: int) -> int:
        log.append(f"fetch {part}")
        await asyncio.sleep(0)
        if part == 3:
            raise ValueError("part 3")
        return part * 10

    async def prepare(part: int, fetched: int) -> int:
        log.append(f"prepare {part}")
        return fetched + 1

    watch = Unretrieved()
    async with Pipeline([[0, 1], [2], [3], [4]], fetch, prepare, depth=1) as pipeline:
        assert await pipeline.take() == [1, 11]
        assert await pipeline.take() == [21]
        with pytest.raises(ValueError, match="part 3"):
            await pipeline.take()
    assert pipeline.running == 0 and not stages()
    assert watch.done() == []
    # depth 1: chunk 2 (part 3) is started only when chunk 1 is taken, after chunk 0's parts
    assert log.index("fetch 3") > log.index("prepare 1")
