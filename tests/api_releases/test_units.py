"""The release and webhook pieces without servers: URL rules, backoff, signatures, recording a
pushed release tag twice, a queue that refuses a publish request, undecodable results."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gitstore.api.releases.actions import on_release_tag, request_publication
from gitstore.api.releases.patterns import is_release_tag
from gitstore.api.webhooks.dispatcher import next_attempt_at
from gitstore.api.webhooks.results import GROUP, PublicationResults
from gitstore.api.webhooks.signing import published_payload, signature
from gitstore.api.webhooks.urls import check_destination, check_url_shape
from gitstore.backends.metadata.base import PublishMode, RepositoryRecord, Tier, Visibility
from gitstore.backends.metadata.base_git import PublicationKind, PublicationState
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.memory import MemoryQueue
from gitstore.config import WebhookSettings
from gitstore.domain.errors import AlreadyExists, InvalidArgument, Unavailable
from gitstore.domain.events import PublishedEvent, PublishEvent


class _Services:
    def __init__(self, store: MemoryMetadataStore, queue: Queue) -> None:
        self._store = store
        self.queue = queue

    @property
    def store(self) -> MemoryMetadataStore:
        return self._store

    def events(self) -> Queue:
        return self.queue

    def git(self) -> Any:
        raise AssertionError("not used")


class _RefusingQueue(MemoryQueue):
    async def publish(self, body: bytes, *, key: str = "") -> str:
        raise Unavailable("queue down")


async def _repository(
    store: MemoryMetadataStore, mode: PublishMode = PublishMode.ON_RELEASE_TAG
) -> RepositoryRecord:
    namespace = await store.create_namespace(
        "acme", Tier.USER, display_name="Acme", parent_enterprise_id=None, created_by="alice"
    )
    return await store.create_repository(
        namespace.id,
        "shop",
        description="",
        publish_mode=mode,
        default_branch="main",
        visibility=Visibility.PRIVATE,
        created_by="alice",
    )


def test_release_patterns_are_the_push_policy_globs() -> None:
    patterns = ("release/*", "v*")
    assert is_release_tag("v1.2.0", patterns) and is_release_tag("refs/tags/v1", patterns)
    assert is_release_tag("release/2026-11", patterns)
    assert not is_release_tag("release/2026/11", patterns)  # * does not cross /
    assert is_release_tag("release/2026/11", ("release/**",))
    assert not is_release_tag("V1", patterns) and not is_release_tag("nightly", patterns)
    assert not is_release_tag("v1", ())


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("", "1.."),
        ("mailto:a@b.c", "http or https"),
        ("http://a:b@host/x", "credentials"),
        ("http://host:99999/x", "not a valid URL"),
        ("https://host/x#y", "fragment"),
    ],
)
def test_url_shapes_are_refused_with_reasons(url: str, needle: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_url_shape(url)
    assert needle in caught.value.message and caught.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://api.localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
    ],
)
async def test_private_destinations_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await check_destination(url, allow_private=False)
    assert "private address" in caught.value.message
    await check_destination(url, allow_private=True)


async def test_public_addresses_are_accepted() -> None:
    await check_destination("https://93.184.216.34/hook", allow_private=False)
    await check_destination("https://[2606:4700::1111]/hook", allow_private=False)


def test_backoff_doubles_with_bounded_jitter_and_stops_at_max_attempts() -> None:
    settings = WebhookSettings(backoff_seconds=2.0, max_attempts=4)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    low = [next_attempt_at(settings, n, now, jitter=lambda: 0.0) for n in range(4)]
    high = [next_attempt_at(settings, n, now, jitter=lambda: 0.999) for n in range(3)]
    assert low[:3] == [now + timedelta(seconds=s) for s in (2, 4, 8)]
    assert low[3] is None  # the 4th attempt was the last
    for earliest, latest in zip(low, high, strict=False):
        assert earliest is not None and latest is not None
        assert earliest <= latest <= now + (earliest - now) * 1.25


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"event":"release.published"}'
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert signature("k", body) == f"sha256={expected}"


@pytest.mark.parametrize(("count", "truncated"), [(2, False), (5000, True)])
def test_payload_counts_changed_resources_and_says_when_cut(count: int, truncated: bool) -> None:
    names = tuple(f"product/p{i:05d}" for i in range(min(count, 1000)))
    event = PublishedEvent(
        "e", "acme/catalog", 3, "v1", "a" * 40, "PUBLISHED", changed=names, changed_count=count
    )
    payload = published_payload(event, datetime(2026, 11, 27, tzinfo=UTC))
    assert payload["changed"] == list(names)
    assert payload["changedCount"] == count
    assert payload["changedTruncated"] is truncated


async def test_a_pushed_release_tag_is_recorded_and_published_once() -> None:
    store = MemoryMetadataStore()
    queue = MemoryQueue("events")
    services = _Services(store, queue)
    record = await _repository(store)
    commit = "a" * 40
    args: dict[str, Any] = {"by": "bob", "source": "ssh", "correlation_id": "push-1"}
    lines = await on_release_tag(services, record, "refs/tags/v1", commit, **args)
    assert lines == [
        "release v1 → publication 1 queued (storefronts switch when the worker has projected it)"
    ]
    again = await on_release_tag(services, record, "v1", commit, **args)
    assert "recorded before (publication 1)" in again[0]
    page = await store.list_publications(record.id, first=10)
    assert [p.sequence for p in page.items] == [1]
    (message,) = await queue.fetch("w", "c", timeout=0)
    event = PublishEvent.from_json(message.body)
    assert (event.tag, event.commit, event.correlation_id) == ("v1", commit, "push-1")
    release = await store.get_release(record.id, "v1")
    assert release is not None and release.source == "ssh" and release.created_by == "bob"
    with pytest.raises(AlreadyExists) as caught:
        await on_release_tag(services, record, "v1", "b" * 40, **args)
    assert "immutable" in caught.value.message


async def test_on_commit_tags_are_recorded_without_a_publication() -> None:
    store = MemoryMetadataStore()
    record = await _repository(store, PublishMode.ON_COMMIT)
    services = _Services(store, MemoryQueue("events"))
    lines = await on_release_tag(
        services, record, "v1", "c" * 40, by="bob", source="http", correlation_id=""
    )
    assert "ON_COMMIT" in lines[0]
    assert (await store.list_publications(record.id, first=10)).items == []


async def test_a_publish_request_the_queue_refuses_is_marked_failed() -> None:
    store = MemoryMetadataStore()
    record = await _repository(store)
    release = await store.create_release(record.id, "v1", "d" * 40, created_by="bob", source="api")
    services = _Services(store, _RefusingQueue("events"))
    with pytest.raises(Unavailable) as caught:
        await request_publication(
            services, record, release, kind=PublicationKind.PUBLISH, by="bob", correlation_id=""
        )
    assert "marked FAILED" in caught.value.message
    publication = await store.get_publication(record.id, 1)
    assert publication is not None and publication.state is PublicationState.FAILED
    assert "queue down" in publication.error


async def test_undecodable_results_are_dropped_and_outcomes_for_unknown_ones_acked() -> None:
    store = MemoryMetadataStore()
    queue = MemoryQueue("events-published")
    results = PublicationResults(store, queue, consumer="t")
    await queue.publish(b"not json")
    await queue.publish(
        b'{"event_id":"e","repository_id":"nobody/none","sequence":1,"tag":"v1",'
        b'"commit":"x","state":"PUBLISHED"}'
    )
    for message in await queue.fetch(GROUP, "t", timeout=0):
        await results.process(message)
    assert await queue.pending(GROUP) == 0
