"""Every API replica sees every poke: two API servers on one Redis stream (their own consumer
groups), one store; a watcher on each receives every change. Bookmark ticks are an hour
apart here, so only the pokes can deliver the changes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from gitstore.api.app import create_app
from gitstore.backends.metadata.base import PublishMode, Tier, Visibility
from gitstore.backends.queue.factory import open_queue
from gitstore.domain.events import ResourceChangedEvent
from tests.api.server import ApiServer, api_settings, unique_name
from tests.servers import REDIS_URL, require_server
from tests.sse.harness import WATCH, sse_events
from tests.sse.sqlite_feed import SqliteFeed
from tests.support.uvicorn_thread import serve_in_thread


@contextmanager
def _replica(tmp_path: Path, group: str, stream: str, feed_path: Path) -> Iterator[ApiServer]:
    settings = api_settings(
        tmp_path / group,
        **{
            "queue.url": require_server(REDIS_URL, "Redis"),
            "resources.stream": stream,
            "watch.group": group,
            "watch.bookmark_seconds": 3600,
            # longer than the client's 30 s read timeout: a missing change fails the test
            "watch.keepalive_seconds": 120,
        },
    )
    feed = SqliteFeed(feed_path)
    app = create_app(settings, resource_feed=feed)
    with serve_in_thread(app, name=group) as (base_url, client, loop):
        api = ApiServer(base_url, app, client, loop)
        store = api.services.store

        async def setup() -> None:
            ns = await store.create_namespace(
                "shop", Tier.USER, display_name="", parent_enterprise_id=None, created_by="x"
            )
            await store.create_repository(
                ns.id,
                "catalog",
                description="",
                publish_mode=PublishMode.ON_COMMIT,
                default_branch="main",
                visibility=Visibility.PUBLIC,
                created_by="x",
            )

        api.run(setup())
        try:
            yield api
        finally:
            feed.close()


def _versions(events: Iterator[tuple[str, Any]]) -> Iterator[int]:
    for event, data in events:
        assert event == "next", (event, data)
        watched = data["data"]["watchResources"]
        if watched["type"] != "BOOKMARK":
            yield int(watched["resourceVersion"])


def test_each_replica_sees_every_poke(tmp_path: Path) -> None:
    stream = unique_name("resources").replace("-", "_")
    feed_path = tmp_path / "feed.sqlite3"
    writer_feed = SqliteFeed(feed_path)
    repo = "shop/catalog"
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(_replica(tmp_path, group, stream, feed_path))
            for group in ("watch-a", "watch-b")
        ]
        streams = [
            stack.enter_context(
                api.client.stream(
                    "POST",
                    "/graphql",
                    json={"query": WATCH, "variables": {"repo": repo, "rv": "0"}},
                    headers={"Accept": "text/event-stream"},
                )
            )
            for api in replicas
        ]
        versions = [_versions(sse_events(response)) for response in streams]

        async def write() -> None:
            queue = await open_queue(REDIS_URL, stream=stream)
            for i in range(50):
                version = writer_feed.put(repo, "Product", f"p{i}", {"i": i})
                await queue.publish(ResourceChangedEvent(repo, version).to_json(), key=repo)
            await queue.close()

        asyncio.run(write())
        for each in versions:
            assert [next(each) for _ in range(50)] == list(range(1, 51))
    writer_feed.close()

    async def drop() -> None:
        queue = await open_queue(REDIS_URL, stream=stream)
        await queue.drop()
        await queue.close()

    asyncio.run(drop())
