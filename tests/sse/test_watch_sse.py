"""Watches over GraphQL-SSE against a real server: list + watch, resume, EXPIRED, order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitstore.domain.events import ResourceChangedEvent

from tests.servers import NATS_URL, REDIS_URL, require_server
from tests.sse.harness import WATCH, WatchServer, sse_events, watch_server


def _queue_url(name: str, tmp_path: Path) -> str:
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    if name == "redis":
        return require_server(REDIS_URL, "Redis")
    return require_server(NATS_URL, "NATS JetStream")


def _open(server: WatchServer, variables: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return server.api.client.stream(
        "POST", "/graphql", json={"query": WATCH, "variables": variables}, headers=headers
    )


def _events(response: Any) -> Any:
    for event, data in sse_events(response):
        if event == "complete":
            return
        assert event == "next", event
        yield data


def test_initial_list_then_changes_in_order(tmp_path: Path) -> None:
    with watch_server(tmp_path, _queue_url("sqlite", tmp_path)) as server:
        repo = server.public
        server.write(repo, "Product", "a", {"title": "A"}, tier="gold")
        server.write(repo, "Product", "b", {"title": "B"})
        with _open(server, {"repo": repo}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response)
            first = [next(events)["data"]["watchResources"] for _ in range(3)]
            assert [(e["type"], e["object"]["metadata"]["name"] if e["object"] else None) for e in first] == [
                ("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)
            ]
            assert first[2]["resourceVersion"] == "2"
            server.write(repo, "Category", "c")
            server.delete(repo, "Product", "a")
            got = [next(events)["data"]["watchResources"] for _ in range(2)]
            assert [(e["type"], e["resourceVersion"], e["object"]["kind"]) for e in got] == [
                ("ADDED", "3", "Category"),
                ("DELETED", "4", "Product"),
            ]


@pytest.mark.parametrize("backend", ["sqlite", "redis", "nats"])
def test_every_change_of_1000_rapid_writes_exactly_once_in_order(
    tmp_path: Path, backend: str
) -> None:
    with watch_server(tmp_path, _queue_url(backend, tmp_path)) as server:
        repo = server.public
        start = server.write(repo, "Product", "seed")
        with _open(server, {"repo": repo, "rv": str(start)}) as response:
            events = _events(response)

            async def burst() -> list[int]:
                versions = []
                for i in range(1000):
                    change = server.feed.put(repo, "Product", f"p{i % 50}", {"n": i})
                    await server.writer.publish(
                        ResourceChangedEvent(repo, change.resource_version).to_json(), key=repo
                    )
                    versions.append(change.resource_version)
                return versions

            written = server.api.run(burst())
            seen: list[int] = []
            while len(seen) < 1000:
                event = next(events)["data"]["watchResources"]
                if event["type"] == "BOOKMARK":
                    continue
                seen.append(int(event["resourceVersion"]))
            assert seen == written

