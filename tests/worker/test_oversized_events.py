"""End to end on NATS JetStream: a huge change to one repository does not stop the others.

The fault (issue "Under faults and races nothing gets stuck"): a change of ~6,000 files with
long names made a ref-update event of ~2 MB, over NATS' 1 MiB maximum payload; the relay
retried it forever, ahead of every later event, so a normal mutation of another repository
was committed and never projected. Here the huge commit goes through the git service
(CommitFiles; a push builds its event with the same ``events.ref_update``), then a one-file
commit to another repository: both must be projected, the first from its reference-form
event (no paths; the worker diffs from Git).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain.events import MAX_EVENT_BYTES, ChangedPathInfo, RefUpdateEvent
from gitstore.git.client import GitClient
from gitstore.gitservice.server import start_server
from gitstore.worker.service import WorkerService
from tests.servers import NATS_URL, require_server
from tests.worker.harness import (
    commit,
    create_repository,
    encode,
    files_of,
    make_settings,
    product,
    visible_draft,
    wait_for_head,
    with_git_uri,
)

FILES = 6000


@pytest.fixture
async def nats_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    url = require_server(NATS_URL, "NATS JetStream")
    settings = make_settings(
        tmp_path / "data",
        **{"queue.url": url, "queue.stream": f"huge-{uuid.uuid4().hex[:10]}"},
    )
    yield settings
    queue = await open_queue(url, stream=settings.queue.stream)
    await queue.drop()
    await queue.close()


def long_name(i: int) -> str:
    return f"{'long-product-handle-' * 2}with-a-long-tail-{i:05d}"  # 62 (names: <= 63)


async def test_a_huge_change_and_a_normal_one_are_both_projected(nats_settings: Settings) -> None:
    handle = start_server(nats_settings)
    settings = with_git_uri(nats_settings, f"127.0.0.1:{handle.port}")
    git = GitClient.from_settings(settings)
    kv: KvStore = await open_kv_store(settings.kv_url())
    worker = WorkerService(settings)
    try:
        big = await create_repository(git, "acme/huge")
        small = await create_repository(git, "acme/small")
        files = {
            f"products/{long_name(i)}.yaml": encode(product(long_name(i))) for i in range(FILES)
        }
        huge = await commit(git, big, files)
        listed = tuple(
            ChangedPathInfo(c.path, "ADDED", new_blob_id=c.new_blob_id) for c in huge.changed_paths
        )
        full = RefUpdateEvent(
            "e", big, "refs/heads/main", "0" * 40, huge.commit_sha, changed_paths=listed
        )
        assert len(full.to_json()) > 1024 * 1024  # the event as it used to be: over NATS' limit
        normal = await commit(git, small, files_of(product("upsert-product")))
        await worker.start()
        await wait_for_head(kv, small, normal.commit_sha, timeout=120)
        await wait_for_head(kv, big, huge.commit_sha, timeout=180)
        last = await kv.get(await visible_draft(kv, big), "product", long_name(FILES - 1))
        assert last is not None and last.version == huge.commit_sha
        assert await kv.get(await visible_draft(kv, small), "product", "upsert-product") is not None

        # what went over the wire: the huge change by reference, the small one in full
        queue = await open_queue(settings.queue_url(), stream=settings.queue.stream)
        try:
            seen: dict[str, RefUpdateEvent] = {}
            for _ in range(30):
                if huge.commit_sha in seen and normal.commit_sha in seen:
                    break
                for message in await queue.fetch("inspect", "t", max_messages=10, timeout=1.0):
                    assert len(message.body) <= MAX_EVENT_BYTES
                    event = RefUpdateEvent.from_json(message.body)
                    seen[event.new] = event
        finally:
            await queue.close()
        big_event, small_event = seen[huge.commit_sha], seen[normal.commit_sha]
        assert big_event.changed_paths == () and big_event.changed_count == FILES
        assert big_event.changed_truncated
        assert len(small_event.changed_paths) == small_event.changed_count == 1
        assert handle.outbox.dead_count() == 0
    finally:
        await worker.stop()
        await kv.close()
        await git.close()
        handle.stop(grace=1.0)
