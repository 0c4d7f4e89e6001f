"""A release of 10,000 resources written in a spoke version converts in batches: the real
``price.wasm`` hook runs a handful of instances, not one per resource — counted by the
runner (``WasmHookRunner.instances``/``documents``), not timed. The draft projection of the
same commit afterwards is answered by the prepared-file cache and runs no hook at all."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitstore.backends.kv import KvStore
from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.backends.wasm.runner import WasmHookRunner
from gitstore.domain.conversion import HookLimits
from gitstore.domain.keys import LIVE
from gitstore.git.client import GitClient
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.prepared_cache import PreparedCache
from tests.conversion.build import build_hooks
from tests.worker.harness import commit, encode
from tests.worker.test_publisher import publisher_on, request
from tests.worker.test_statuses_hub import offer_kind

COUNT = 10_000
CHUNK = 2000  # the projection's batch: one hook request per chunk


@pytest.fixture(scope="module")
def hooks() -> Path:
    return build_hooks()


@pytest.fixture
def runner() -> Iterator[WasmHookRunner]:
    with WasmHookRunner() as running:
        yield running


async def test_a_release_of_10000_spoke_resources_runs_few_hook_instances(
    git: GitClient, kv: KvStore, repo: str, hooks: Path, runner: WasmHookRunner
) -> None:
    wasm = (hooks / "price.wasm").read_bytes()
    kind = {
        "hooks/price.wasm": wasm,
        "kinds/offers.yaml": encode(offer_kind("hooks/price.wasm", wasm)),
    }
    await commit(git, repo, kind)  # (at most 10,000 actions per commit)
    files: dict[str, bytes] = {}
    for i in range(COUNT):
        files[f"offers/o{i}.json"] = json.dumps(
            {
                "apiVersion": "shop.example/v1",
                "kind": "Offer",
                "metadata": {"name": f"o{i}"},
                "spec": {"title": f"Offer {i}", "price": {"amount": f"{i}.00", "currency": "EUR"}},
            }
        ).encode()
    sha = (await commit(git, repo, files)).commit_sha
    pool = AsyncHookRunner(runner)
    publisher, _ = publisher_on(git, kv, batch_size=CHUNK, hooks=pool, cache=PreparedCache(1 << 27))
    try:
        outcome = await publisher.publish(request(repo, 1, sha))
        assert outcome.state == "PUBLISHED", outcome
        live = await kv.resolve(repo, LIVE)
        last = await kv.get(live, "offer", f"o{COUNT - 1}")
        assert last is not None
        assert last.value()["spec"]["pricingMatrix"] == [
            {"minQuantity": 1, "price": {"amount": f"{COUNT - 1}.00", "currency": "EUR"}}
        ]
        # every document went through the hook once, in batches of at most 1,000 per instance
        per_instance = HookLimits().max_batch_documents
        assert runner.documents == COUNT
        # one request per projection chunk (the plan also holds kinds/offers.yaml), each
        # cut into batches of at most 1,000 documents: one instance per batch
        chunks = math.ceil((COUNT + 1) / CHUNK)
        assert runner.requests == chunks
        assert runner.instances <= chunks * math.ceil(CHUNK / per_instance)
        assert runner.instances == math.ceil(COUNT / per_instance) + 1  # 11, not 10,000
        converted = runner.instances
        # the same counters on the worker's /metrics
        metrics = WorkerMetrics()
        metrics.watch_hooks(lambda: runner)
        sample = metrics.registry.get_sample_value
        assert sample("gitstore_worker_hook_instances_total") == converted
        assert sample("gitstore_worker_hook_documents_total") == COUNT
        assert sample("gitstore_worker_hook_requests_total") == chunks

        # the draft of the same commit: every file from the cache, no hook run
        await publisher.projector.project(repo)
        assert (runner.instances, runner.documents) == (converted, COUNT)
    finally:
        pool.close()
        publisher.projector.close()
