"""The whole path in one process: git service commit -> outbox relay -> SQLite queue ->
``WorkerService`` -> SQLite KV. Also two workers sharing the group, and metrics."""

from __future__ import annotations

import asyncio
import logging
import socket
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from gitstore.backends.kv import KvStore
from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.git.client import GitClient
from gitstore.worker.service import WorkerService
from gitstore.worker.statuses import get_commit_status
from tests.worker.harness import (
    assert_kv_matches_head,
    commit,
    create_repository,
    files_of,
    product,
    wait_for_head,
    wait_until,
)

StartWorker = Callable[..., Awaitable[WorkerService]]


@pytest.fixture
async def workers(worker_settings: Settings) -> AsyncIterator[StartWorker]:
    async with AsyncExitStack() as stack:

        async def start(settings: Settings | None = None, **kwargs: Any) -> WorkerService:
            service = WorkerService(settings or worker_settings, **kwargs)
            await service.start()
            stack.push_async_callback(service.stop)
            return service

        yield start


def sample(service: WorkerService, name: str, **labels: str) -> float:
    return service.metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_commit_reaches_the_kv_through_the_queue(
    git: GitClient,
    kv: KvStore,
    repo: str,
    workers: StartWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gitstore.worker")
    service: WorkerService = await workers()
    done = await commit(
        git, repo, files_of(product("a", categories=["shoes"]), product("b")), request_id="req-42"
    )

    await wait_for_head(kv, repo, done.commit_sha)
    await wait_until(lambda: _status_known(kv, repo, done.commit_sha), what="the commit status")

    await assert_kv_matches_head(kv, git, repo)
    assert (await get_commit_status(kv, repo, done.commit_sha)).state == "VALID"
    # the event is counted when its handler returns, after the status (and the resource sync)

    async def counted() -> bool:
        return sample(service, "gitstore_worker_events_total", outcome="projected") == 1

    await wait_until(counted, what="the projected event counted")
    assert sample(service, "gitstore_worker_documents_total", op="upsert") == 2
    assert sample(service, "gitstore_worker_projection_seconds_count") == 1
    assert sample(service, "gitstore_worker_kv_apply_seconds_count") >= 1
    assert sample(service, "gitstore_worker_commit_statuses_total", state="VALID") == 1
    assert "[correlation_id=req-42]" in caplog.text

    second = await commit(
        git, repo, files_of(product("a", price="1.00")), deletes=["products/b.yaml"]
    )
    await wait_for_head(kv, repo, second.commit_sha)
    await assert_kv_matches_head(kv, git, repo)


async def _status_known(kv: KvStore, repo: str, sha: str) -> bool:
    return (await get_commit_status(kv, repo, sha)).state != "PENDING"


async def test_validation_failures_are_counted(
    git: GitClient, kv: KvStore, repo: str, workers: StartWorker
) -> None:
    service: WorkerService = await workers()
    done = await commit(git, repo, {"products/a.yaml": b"spec: {}\n", **files_of(product("b"))})
    await wait_for_head(kv, repo, done.commit_sha)
    await wait_until(lambda: _status_known(kv, repo, done.commit_sha), what="the status")

    async def counted() -> bool:  # the counters follow the status write, not before it
        return sample(service, "gitstore_worker_commit_statuses_total", state="INVALID") >= 1

    await wait_until(counted, what="the invalid status counted")
    assert sample(service, "gitstore_worker_validation_failures_total") == 1
    assert sample(service, "gitstore_worker_commit_statuses_total", state="INVALID") == 1


async def test_two_workers_sharing_the_group_converge(
    git: GitClient, kv: KvStore, worker_settings: Settings, workers: StartWorker
) -> None:
    data = worker_settings.model_dump()
    data["worker"]["batch_size"] = 7  # chunked projections, so claims meet
    data["worker"]["claim_stale_seconds"] = 1.0
    settings = Settings.model_validate(data)
    first: WorkerService = await workers(settings, consumer_name="w1")
    second: WorkerService = await workers(settings, consumer_name="w2")
    repos = [await create_repository(git, f"acme/shop-{i}") for i in range(3)]
    heads: dict[str, str] = {}
    for round_ in range(6):
        for repository in repos:
            upserts = files_of(
                *(
                    product(f"p{j}", title=f"r{round_} p{j}")
                    for j in range(round_ * 3, round_ * 3 + 10)
                )
            )
            deletes = [f"products/p{round_ * 3 - 3}.yaml"] if round_ else []
            done = await commit(git, repository, upserts, deletes)
            heads[repository] = done.commit_sha

    for repository, sha in heads.items():
        await wait_for_head(kv, repository, sha, timeout=60)
        await assert_kv_matches_head(kv, git, repository)
    queue = await open_queue(settings.queue_url(), stream=settings.queue.stream)
    try:
        await wait_until(
            lambda: _drained(queue, settings.worker.group), timeout=60, what="an empty backlog"
        )
    finally:
        await queue.close()
    consumed = sum(
        sample(w, "gitstore_worker_events_total", outcome=o)
        for w in (first, second)
        for o in ("projected", "unchanged")
    )
    assert consumed >= 18  # every event handled (redeliveries may add a few)


async def _drained(queue: Queue, group: str) -> bool:
    return await queue.pending(group) == 0


async def test_metrics_are_served_on_their_own_port(
    worker_settings: Settings, workers: StartWorker
) -> None:
    data = worker_settings.model_dump()
    data["worker"]["metrics_port"] = _free_port()
    service: WorkerService = await workers(
        Settings.model_validate(data), serve_metrics=True, pending_interval=0.05
    )
    assert service.metrics_port == data["worker"]["metrics_port"]

    def scrape() -> str:
        url = f"http://127.0.0.1:{service.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    text = await asyncio.to_thread(scrape)
    for name in (
        "gitstore_worker_events_total",
        "gitstore_worker_projection_seconds",
        "gitstore_worker_queue_pending",
        "gitstore_worker_queue_lag_seconds",
        "gitstore_worker_validation_failures_total",
        "gitstore_worker_kv_apply_seconds",
    ):
        assert name in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
