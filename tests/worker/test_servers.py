"""The worker on the real servers: NATS JetStream or Redis Streams events, a Redis KV.

With ``CI=true`` a missing server fails these tests instead of skipping them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.git.client import GitClient
from gitstore.gitservice.server import GitServiceHandle, start_server
from gitstore.worker.service import WorkerService
from gitstore.worker.statuses import get_commit_status
from tests.servers import NATS_URL, REDIS_URL, require_server
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


@pytest.fixture(params=["nats", "redis"])
def server_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Events on NATS JetStream or Redis Streams; the KV on Redis."""
    redis_url = require_server(REDIS_URL, "Redis")
    queue_url = require_server(NATS_URL, "NATS") if request.param == "nats" else redis_url
    tag = uuid.uuid4().hex[:10]
    yield make_settings(
        tmp_path / "data",
        **{
            "queue.url": queue_url,
            "queue.stream": f"worker-test-{tag}",
            "kv.url": f"{redis_url}?prefix=worker-test-{tag}:",
        },
    )


@pytest.fixture
async def remote(server_settings: Settings) -> AsyncIterator[tuple[Settings, GitServiceHandle]]:
    handle = start_server(server_settings)
    try:
        yield with_git_uri(server_settings, f"127.0.0.1:{handle.port}"), handle
    finally:
        handle.stop(grace=1.0)
        queue = await open_queue(server_settings.queue_url(), stream=server_settings.queue.stream)
        await queue.drop()
        await queue.close()
        prefix = server_settings.kv.url.split("prefix=")[1]
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_events_from_a_server_queue_into_a_redis_kv(
    remote: tuple[Settings, GitServiceHandle],
) -> None:
    settings, _ = remote
    data = settings.model_dump()
    data["worker"]["batch_size"] = 20  # chunked on Redis too
    settings = Settings.model_validate(data)
    git = GitClient.from_settings(settings)
    kv: KvStore = await open_kv_store(settings.kv_url())
    worker = WorkerService(settings)
    try:
        await worker.start()
        repo = await create_repository(git, "acme/catalog")
        first = await commit(
            git, repo, files_of(*(product(f"p{i}", categories=["c"]) for i in range(45)))
        )
        await wait_for_head(kv, repo, first.commit_sha, timeout=60)
        await assert_kv_matches_head(kv, git, repo)
        second = await commit(
            git,
            repo,
            {"products/p1.yaml": b"spec: {}\n", **files_of(product("p2", categories=["d"]))},
            deletes=["products/p3.yaml"],
        )
        await wait_for_head(kv, repo, second.commit_sha, timeout=60)
        p1 = await kv.get(await visible_draft(kv, repo), "product", "p1")
        assert p1 is not None and p1.version == first.commit_sha
        await wait_until(lambda: _checked(kv, repo, second.commit_sha), what="the status")
        status = await get_commit_status(kv, repo, second.commit_sha)
        assert status.state == "INVALID" and status.errors[0]["path"] == "products/p1.yaml"
        page = await kv.lookup(await visible_draft(kv, repo), "product", "category", "d", first=10)
        assert [d.name for d in page.items] == ["p2"]
    finally:
        await worker.stop()
        await kv.close()
        await git.close()


async def _checked(kv: KvStore, repo: str, sha: str) -> bool:
    return (await get_commit_status(kv, repo, sha)).state != "PENDING"
