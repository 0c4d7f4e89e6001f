"""A real API server (uvicorn, real HTTP) with watches fed by a test ``ResourceFeed``.

``watch_server(tmp_path, queue_url)`` starts the app with a ``MemoryResourceFeed`` (the
contract's in-memory reference) and the real queue backend at ``queue_url`` for pokes; it
creates a user, a namespace and two repositories (``public``: PUBLIC + ON_COMMIT, ``drafts``:
PUBLIC + ON_RELEASE_TAG). ``write(...)`` changes the feed and publishes the poke, as the
resource store does after each commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gitstore.api.app import create_app
from gitstore.api.watch.memory import MemoryResourceFeed
from gitstore.backends.metadata.base import PublishMode, Tier, Visibility
from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.domain.events import ResourceChangedEvent
from tests.api.server import ApiServer, api_settings, unique_name
from tests.support.uvicorn_thread import serve_in_thread

WATCH = """
subscription W($repo: String!, $rv: String, $kind: String, $sel: String) {
  watchResources(repository: $repo, resourceVersion: $rv, kind: $kind, labelSelector: $sel) {
    type resourceVersion object
  }
}"""


@dataclass
class WatchServer:
    api: ApiServer
    feed: MemoryResourceFeed
    writer: Queue
    token: str
    public: str
    drafts: str

    def write(
        self,
        repo: str,
        kind: str,
        name: str,
        spec: dict[str, Any] | None = None,
        *,
        poke: bool = True,
        **labels: str,
    ) -> int:
        """Put an object (feed + poke, on the server's loop); its resourceVersion."""

        async def go() -> int:
            change = self.feed.put(repo, kind, name, spec or {}, labels)
            if poke:
                event = ResourceChangedEvent(repo, change.resource_version)
                await self.writer.publish(event.to_json(), key=repo)
            return change.resource_version

        return self.api.run(go())

    def delete(self, repo: str, kind: str, name: str) -> int:
        async def go() -> int:
            change = self.feed.delete(repo, kind, name)
            await self.writer.publish(
                ResourceChangedEvent(repo, change.resource_version).to_json(), key=repo
            )
            return change.resource_version

        return self.api.run(go())


@contextmanager
def watch_server(
    tmp_path: Path, queue_url: str, *, retain: int = 100_000, **overrides: Any
) -> Iterator[WatchServer]:
    stream = unique_name("resources").replace("-", "_")
    settings = api_settings(
        tmp_path, **{"queue.url": queue_url, "resources.stream": stream, **overrides}
    )
    feed = MemoryResourceFeed(retain=retain)
    app = create_app(settings, resource_feed=feed)
    with serve_in_thread(app, name="watch-server") as (base_url, client, loop):
        api = ApiServer(base_url, app, client, loop)
        user, token = api.user_token()
        store = api.services.store

        async def setup() -> tuple[str, str, Queue]:
            ns = await store.create_namespace(
                unique_name("ns"),
                Tier.USER,
                display_name="",
                parent_enterprise_id=None,
                created_by=user.username,
            )
            names = []
            for mode in (PublishMode.ON_COMMIT, PublishMode.ON_RELEASE_TAG):
                record = await store.create_repository(
                    ns.id,
                    unique_name("repo"),
                    description="",
                    publish_mode=mode,
                    default_branch="main",
                    visibility=Visibility.PUBLIC,
                    created_by=user.username,
                )
                names.append(record.repository_id)
            writer = await open_queue(queue_url, stream=stream)
            return names[0], names[1], writer

        public, drafts, writer = api.run(setup())
        server = WatchServer(api, feed, writer, token, public, drafts)
        try:
            yield server
        finally:
            api.run(writer.drop())
            api.run(writer.close())


def sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, data) of an event stream, as they arrive (comments skipped)."""
    event, data = "", ""
    for line in response.iter_lines():
        if line == "":
            if event or data:
                yield event, json.loads(data) if data else None
            event, data = "", ""
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
