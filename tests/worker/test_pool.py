"""PreparePool: large chunks parsed, validated and encoded on worker processes.

One pool of two real (spawned) processes is shared by the module, with a low ``min_files``
so small chunks go to it: results equal ``prepare_many`` in order (valid and invalid files),
registries with custom kinds stay in a thread, a pool whose child was killed falls back to a
thread and starts a new pool next time, and a chunked projection through the pool leaves the
KV equal to the branch head.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.content import KindRegistry, Manifest, encode_manifest
from gitstore.git.client import GitClient
from gitstore.worker.parsing import prepare_many
from gitstore.worker.pool import PreparePool
from gitstore.worker.projector import Projector
from tests.worker.harness import (
    REGISTRY,
    assert_kv_matches_head,
    category,
    commit,
    encode,
    files_of,
    path_of,
    product,
)

BRANDS = {
    "apiVersion": "gitstore.dev/v1",
    "kind": "KindDefinition",
    "metadata": {"name": "brands"},
    "spec": {
        "group": "acme.example",
        "names": {"kind": "Brand", "plural": "brands", "singular": "brand"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
            }
        ],
    },
}


@pytest.fixture(scope="module")
def pool() -> Iterator[PreparePool]:
    shared = PreparePool(2, min_files=3)
    try:
        yield shared
    finally:
        shared.shutdown()


def chunk() -> list[tuple[str, str, bytes]]:
    objs = [product(f"p-{i}", categories=["shirts"], status="active") for i in range(6)]
    files = [(path_of(o), f"{i:040x}", encode(o)) for i, o in enumerate(objs)]
    files.insert(2, ("products/bad.yaml", "b" * 40, b"apiVersion: gitstore.dev/v1\nkind: [\n"))
    negative = product("neg", price="-5")
    files.insert(4, (path_of(negative), "c" * 40, encode(negative)))
    files.append((path_of(category("shirts")), "d" * 40, encode(category("shirts"))))
    return files


async def test_results_equal_prepare_many_in_order(pool: PreparePool) -> None:
    files = chunk()
    got = await pool.prepare(files, REGISTRY, max_bytes=1 << 20)
    assert got == prepare_many(files, REGISTRY, max_bytes=1 << 20)
    assert [p.upsert is None for p in got] == [False, False, True, False, True, *[False] * 4]
    assert got[2].errors[0].rule == "yaml-syntax" and got[2].errors[0].line == 3
    assert got[4].errors[0].field == "spec.price.amount"
    # the size limit travels with the chunk
    small = await pool.prepare(files, REGISTRY, max_bytes=100)
    assert small == prepare_many(files, REGISTRY, max_bytes=100)
    assert small[0].upsert is None and small[0].errors[0].rule == "too-large"


async def test_small_chunks_and_custom_kinds_stay_in_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry, problems = KindRegistry.builtin().with_definitions([Manifest.from_object(BRANDS)])
    assert not problems
    assert PreparePool.accepts(REGISTRY) and not PreparePool.accepts(registry)
    shared = PreparePool(2, min_files=3)

    def no_pool() -> None:
        raise AssertionError("the pool must not be used")

    monkeypatch.setattr(shared, "_executor", no_pool)
    brand = Manifest.from_object(
        {
            "apiVersion": "acme.example/v1",
            "kind": "Brand",
            "metadata": {"name": "acme"},
            "spec": {"title": "Acme"},
        }
    )
    files = [("brands/acme.yaml", "a" * 40, encode_manifest(brand))] * 3
    got = await shared.prepare(files, registry, max_bytes=1 << 20)
    assert all(p.upsert is not None for p in got)
    assert len(await shared.prepare(chunk()[:2], REGISTRY, max_bytes=1 << 20)) == 2
    assert await shared.prepare([], REGISTRY, max_bytes=1 << 20) == []


async def test_a_broken_pool_falls_back_and_recovers() -> None:
    shared = PreparePool(1, min_files=1)
    try:
        await shared.warm()
        executor = shared._pool
        assert executor is not None
        for pid in list(executor._processes):  # kill the child: the pool is broken
            os.kill(pid, signal.SIGKILL)
        files = chunk()
        assert await shared.prepare(files, REGISTRY, max_bytes=1 << 20) == prepare_many(
            files, REGISTRY, max_bytes=1 << 20
        )
        assert shared._pool is None  # dropped; the next large chunk starts a new one
        assert len(await shared.prepare(files, REGISTRY, max_bytes=1 << 20)) == len(files)
        assert shared._pool is not None and shared._pool is not executor
    finally:
        await shared.close()


async def test_chunked_projection_through_the_pool(
    git: GitClient, kv: KvStore, repo: str, pool: PreparePool
) -> None:
    objs = [product(f"item-{i:03d}", categories=["shirts"]) for i in range(40)]
    files = files_of(*objs, category("shirts"))
    await commit(git, repo, files)
    projector = Projector(git, kv, owner="pool-test", batch_size=15, pool=pool)
    result = await projector.project(repo)
    assert (result.upserts, result.chunks, result.invalid_files) == (41, 3, 0)
    await assert_kv_matches_head(kv, git, repo)
