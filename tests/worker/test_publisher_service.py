"""Publishing through the queue: a ``PublishEvent`` on the main stream is handled by the
``WorkerService`` (same consumer as ref updates, decoded by ``type``) and its outcome appears
as a ``PublishedEvent`` on ``published_stream(stream)``. Plus the projector knobs the
publisher relies on (alias fence, ceiling, single batch only)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from gitstore.backends.kv import KvStore
from gitstore.backends.queue.base import Message
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain.errors import FailedPrecondition
from gitstore.domain.events import PublishedEvent, PublishEvent, published_stream
from gitstore.domain.keys import LIVE, ChannelScope
from gitstore.git.client import GitClient
from gitstore.worker.handler import decode_event
from gitstore.worker.projector import Overtaken, Projector, Target, TooLarge
from gitstore.worker.service import WorkerService
from tests.worker.harness import commit, files_of, product, wait_for_head


@pytest.fixture
async def service(worker_settings: Settings) -> AsyncIterator[WorkerService]:
    worker = WorkerService(worker_settings, consumer_name="publisher-test")
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def test_a_publish_event_through_the_queue_is_announced_on_the_published_stream(
    git: GitClient, kv: KvStore, repo: str, worker_settings: Settings, service: WorkerService
) -> None:
    done = await commit(git, repo, files_of(product("a"), product("b")))
    await wait_for_head(kv, repo, done.commit_sha)  # the ref update went through as before
    s = worker_settings
    events = await open_queue(s.queue_url(), stream=s.queue.stream)
    published = await open_queue(s.queue_url(), stream=published_stream(s.queue.stream))
    try:
        request = PublishEvent(
            event_id="publish:r1:1",
            repository_id=repo,
            sequence=1,
            tag="v1",
            commit=done.commit_sha,
            timestamp=time.time(),
            correlation_id="req-publish",
        )
        await events.publish(request.to_json(), key=repo)
        deadline = time.monotonic() + 30
        messages: list[Message] = []
        while not messages:
            assert time.monotonic() < deadline, "no PublishedEvent"
            messages = await published.fetch("test", "t1", max_messages=10, timeout=0.5)
        outcome = PublishedEvent.from_json(messages[0].body)
    finally:
        await events.close()
        await published.close()
    assert outcome.state == "PUBLISHED" and outcome.channel == "live-a"
    assert outcome.commit == done.commit_sha and outcome.tag == "v1"
    assert outcome.changed == ("product/a", "product/b")
    assert outcome.correlation_id == "req-publish"
    live = await kv.resolve(repo, LIVE)
    assert live == ChannelScope(repo, "live-a")
    doc = await kv.get(live, "product", "a")
    assert doc is not None and doc.version == done.commit_sha
    registry = service.metrics.registry
    assert registry.get_sample_value("gitstore_worker_events_total", {"outcome": "published"}) == 1


def test_decode_event_tells_the_types_apart() -> None:
    publish = PublishEvent("e1", "acme/catalog", 3, "v3", "a" * 40, kind="REPLAY")
    assert decode_event(publish.to_json()) == publish
    ref = decode_event(
        b'{"event_id":"e2","repository_id":"acme/catalog","ref":"refs/heads/main",'
        b'"old":"' + b"0" * 40 + b'","new":"' + b"1" * 40 + b'"}'
    )
    assert not isinstance(ref, PublishEvent) and ref.event_id == "e2"


async def test_projector_knobs_fence_ceiling_and_single_batch(
    git: GitClient, kv: KvStore, repo: str
) -> None:
    first = await commit(git, repo, files_of(*(product(f"p{i}") for i in range(6))))
    projector = Projector(git, kv, owner="knobs", batch_size=4)
    buffer = ChannelScope(repo, "live-a")
    result = await projector.project_into(
        Target(buffer, first.commit_sha, floor=5 * 2**20, fence=LIVE, hide_claims=True)
    )
    assert result.chunks > 1 and result.sequence > 5 * 2**20
    assert await kv.set_alias(
        repo, LIVE, "live-a", sequence=5, expected_target_version=first.commit_sha
    )
    second = await commit(git, repo, files_of(product("p0", title="Changed")))

    with pytest.raises(FailedPrecondition) as fenced:  # live points at the buffer
        await projector.project_into(Target(buffer, second.commit_sha, fence=LIVE))
    assert fenced.value.field == "alias"
    with pytest.raises(Overtaken):  # the buffer's head is above the ceiling
        await projector.project_into(Target(buffer, second.commit_sha, ceiling=5 * 2**20))
    third = await commit(git, repo, files_of(*(product(f"q{i}") for i in range(6))))
    with pytest.raises(TooLarge):  # 7 writes do not fit one batch of 4
        await projector.project_into(Target(buffer, third.commit_sha, single_only=True))
    head = await kv.head(buffer)
    assert head is not None and head.version == first.commit_sha  # nothing was written
    doc = await kv.get(buffer, "product", "p0")
    assert doc is not None and doc.version == first.commit_sha
