"""Two ``gitstore worker`` processes share the chunks of one big commit (``worker/chunks.py``).

Real processes, a real git service, real backends: SQLite (embedded queue and KV) and Redis
(Redis Streams and a Redis KV). Each chunk a helper writes is logged with its claim and
index (``chunk k/n of claim c written by <owner>``), so the tests can say who wrote what:
both processes wrote chunks, every chunk was written exactly once, and the KV equals what a
single worker projects. Then the failures: a helper SIGKILLed mid-chunk (its chunk is
redelivered), and the coordinator SIGKILLed mid-commit (its claim is taken over; every
document converges to the branch head, the old claim's markers are gone).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain.events import published_stream
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import PROJECTION_KIND
from gitstore.git.client import GitClient
from gitstore.gitservice.server import start_server
from gitstore.worker.chunks import chunk_stream, marker_name
from gitstore.worker.claims import read_claim
from gitstore.worker.projector import Projector
from gitstore.worker.statuses import get_commit_status
from tests.servers import REDIS_URL, require_server
from tests.worker.harness import (
    assert_kv_matches_head,
    commit,
    create_repository,
    files_of,
    make_settings,
    product,
    visible_draft,
    wait_for_head,
    wait_until,
    with_git_uri,
)
from tests.worker.proc import WorkerProcess

WRITTEN = re.compile(r"chunk (\d+)/(\d+) of claim (\d+) written by (\S+): (\d+) upserts")


def worker(settings: Settings, *, batch: int, stale: float = 60.0) -> WorkerProcess:
    return WorkerProcess(
        data_dir=settings.data_dir,
        git_uri=settings.git.grpc.uri,
        kv_url=settings.kv_url(),
        queue_url=settings.queue_url(),
        env={
            "GITSTORE_QUEUE__STREAM": settings.queue.stream,
            "GITSTORE_QUEUE__ACK_WAIT": "2",
            "GITSTORE_WORKER__BATCH_SIZE": str(batch),
            "GITSTORE_WORKER__CLAIM_STALE_SECONDS": str(stale),
        },
    )


def written(*procs: WorkerProcess) -> list[tuple[int, int, int, str, int]]:
    """(claim, index, count, owner, upserts) of every chunk the processes logged."""
    out = []
    for proc in procs:
        for m in WRITTEN.finditer(proc.log):
            out.append((int(m[3]), int(m[1]), int(m[2]), m[4], int(m[5])))
    return out


def rule_collection(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Collection",
        "metadata": {"name": name},
        "spec": {
            "title": "Cheap",
            "rules": [{"field": "price", "relation": "lessThan", "condition": "5"}],
        },
    }


@pytest.fixture(params=["sqlite", "redis"])
async def backend(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Settings]:
    if request.param == "sqlite":
        settings = make_settings(tmp_path / "data")
    else:
        redis_url = require_server(REDIS_URL, "Redis")
        tag = uuid.uuid4().hex[:10]
        settings = make_settings(
            tmp_path / "data",
            **{
                "queue.url": redis_url,
                "queue.stream": f"chunks-test-{tag}",
                "kv.url": f"{redis_url}?prefix=chunks-test-{tag}:",
            },
        )
    handle = start_server(settings)
    try:
        yield with_git_uri(settings, f"127.0.0.1:{handle.port}")
    finally:
        handle.stop(grace=1.0)
        if request.param == "redis":
            await _drop(settings)


async def _drop(settings: Settings) -> None:
    stream = settings.queue.stream
    for name in (stream, chunk_stream(stream), published_stream(stream)):
        queue = await open_queue(settings.queue_url(), stream=name)
        await queue.drop()
        await queue.close()
    prefix = settings.kv.url.split("prefix=")[1]
    client = aioredis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def clients(backend: Settings) -> AsyncIterator[tuple[GitClient, KvStore]]:
    git = GitClient.from_settings(backend)
    kv = await open_kv_store(backend.kv_url())
    try:
        yield git, kv
    finally:
        await kv.close()
        await git.close()


async def documents(kv: KvStore, scope: ChannelScope, kind: str) -> dict[str, tuple[bytes, str]]:
    """name -> (body, index entries) of every document of ``kind`` in ``scope``."""
    out: dict[str, tuple[bytes, str]] = {}
    after = None
    while True:
        page = await kv.list_documents(scope, kind, first=500, after=after)
        indexes = await kv.index_sets(scope, kind, [d.name for d in page.items])
        for doc, index in zip(page.items, indexes, strict=True):
            out[doc.name] = (doc.body, index or "")
        if not page.has_next_page:
            return out
        after = page.end_cursor


N = 3000
BATCH = 200  # 16 chunks


async def test_two_workers_share_the_chunks_of_one_big_commit(
    backend: Settings, clients: tuple[GitClient, KvStore], tmp_path: Path
) -> None:
    git, kv = clients
    repo = await create_repository(git, "acme/catalog")
    products = [
        product(f"item-{i:05d}", price="3.00" if i % 7 == 0 else "10.00", categories=["all"])
        for i in range(N)
    ]
    files = files_of(*products, rule_collection("cheap"))
    files["products/broken.yaml"] = (
        b"apiVersion: gitstore.dev/v1\nkind: Product\nmetadata: {name: broken}\nspec: {}\n"
    )
    a = worker(backend, batch=BATCH).start()
    b = worker(backend, batch=BATCH).start()
    try:
        big = await commit(git, repo, files)
        await wait_for_head(kv, repo, big.commit_sha, timeout=240)
        chunks = written(a, b)
        claims = {c for c, *_ in chunks}
        assert len(claims) == 1, chunks
        indexes = sorted(k for _, k, _, _, _ in chunks)
        count = chunks[0][2]
        assert count == -(-(N + 2) // BATCH)
        assert indexes == list(range(count)), "every chunk written exactly once"
        assert sum(u for *_, u in chunks) == N + 1  # every valid manifest once; broken: none
        assert written(a) and written(b), "both processes wrote chunks"
        assert "shared chunk(s) of claim" in a.log + b.log
        scope = await visible_draft(kv, repo)
        for name in (marker_name(chunks[0][0], k) for k in range(count)):
            assert await kv.get(scope, PROJECTION_KIND, name) is None
        assert await kv.get(scope, "product", "broken") is None  # invalid: not projected
        cheap = await kv.lookup(scope, "product", "collection", "cheap", first=1000)
        assert cheap.total_count == len(range(0, N, 7))
        await wait_until(
            lambda: _status(kv, repo, big.commit_sha), what="the commit status", timeout=60
        )
        status = await get_commit_status(kv, repo, big.commit_sha)
        assert status.state == "INVALID"
        assert [e["path"] for e in status.errors] == ["products/broken.yaml"]
        assert a.terminate() == 0 and b.terminate() == 0
    finally:
        a.close()
        b.close()
    # The same commit projected by one worker alone, into a KV of its own: equal documents.
    single = await open_kv_store(f"sqlite:///{tmp_path / 'single.sqlite3'}")
    try:
        await Projector(git, single, owner="single", batch_size=BATCH).project(repo)
        alone = await visible_draft(single, repo)
        for kind in ("product", "collection"):
            assert await documents(kv, scope, kind) == await documents(single, alone, kind)
    finally:
        await single.close()


async def _status(kv: KvStore, repo: str, sha: str) -> bool:
    return (await get_commit_status(kv, repo, sha)).state != "PENDING"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_helper_killed_mid_chunk_has_its_chunk_redelivered(
    backend: Settings, clients: tuple[GitClient, KvStore]
) -> None:
    git, kv = clients
    repo = await create_repository(git, "acme/catalog")
    n, batch = 8000, 250
    procs = [worker(backend, batch=batch).start(), worker(backend, batch=batch).start()]
    try:
        big = await commit(git, repo, files_of(*(product(f"item-{i:05d}") for i in range(n))))
        standby = ChannelScope(repo, "draft-b")
        await wait_until(lambda: _claimed(kv, standby), what="the claim", timeout=60)
        claim = await read_claim(kv, standby)
        assert claim is not None
        # the coordinator is the process that claimed; the other one only helps
        coordinator, helper = sorted(procs, key=lambda p: f"-{_pid(p)}-" not in claim.owner)
        await wait_until(lambda: _wrote(helper), what="a chunk by the helper", timeout=60)
        helper.kill()  # concurrency 2: it holds the lease of another chunk, mid-way
        await wait_for_head(kv, repo, big.commit_sha, timeout=240)
        await assert_kv_matches_head(kv, git, repo)
        chunks = written(coordinator, helper)
        assert {k for _, k, *_ in chunks} == set(range(claim.chunks))
        assert written(coordinator) and written(helper)
        assert coordinator.terminate() == 0
    finally:
        for proc in procs:
            proc.close()


def _pid(proc: WorkerProcess) -> int:
    assert proc.proc is not None
    return proc.proc.pid


async def _claimed(kv: KvStore, scope: ChannelScope) -> bool:
    claim = await read_claim(kv, scope)
    return claim is not None and claim.chunks > 0


async def _wrote(proc: WorkerProcess) -> bool:
    return bool(written(proc))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_coordinator_killed_mid_commit_is_taken_over(
    backend: Settings, clients: tuple[GitClient, KvStore]
) -> None:
    git, kv = clients
    repo = await create_repository(git, "acme/catalog")
    n, batch = 6000, 300
    first = worker(backend, batch=batch).start()
    try:
        big = await commit(git, repo, files_of(*(product(f"item-{i:05d}") for i in range(n))))
        await wait_until(lambda: _wrote(first), what="a chunk", timeout=120)
        first.kill()
    finally:
        first.close()
    standby = ChannelScope(repo, "draft-b")
    claim = await read_claim(kv, standby)
    assert claim is not None and claim.chunks == -(-n // batch)
    head = await kv.head(standby)
    assert head is not None and head.sequence == claim.sequence  # not finished
    old = [marker_name(claim.sequence, k) for k in range(claim.chunks)]
    assert any(await kv.get_many(standby, PROJECTION_KIND, old)), "some chunk was done"
    # While no worker runs, the branch moves on.
    changed = [product(f"item-{i:05d}", title=f"changed {i}") for i in range(0, n, 100)]
    moved = await commit(
        git, repo, files_of(*changed), deletes=[f"products/item-{i:05d}.yaml" for i in (1, 2, 3)]
    )
    b = worker(backend, batch=batch, stale=1.0).start()
    c = worker(backend, batch=batch, stale=1.0).start()
    try:
        await wait_for_head(kv, repo, moved.commit_sha, timeout=240)
        await assert_kv_matches_head(kv, git, repo)
        assert "finishing an unfinished claim" in b.log + c.log
        scope = await visible_draft(kv, repo)
        assert (await kv.list_documents(scope, "product", first=1)).total_count == n - 3
        assert not any(await kv.get_many(scope, PROJECTION_KIND, old)), "old markers left"
        assert b.terminate() == 0 and c.terminate() == 0
    finally:
        b.close()
        c.close()
    assert big.commit_sha != moved.commit_sha
