"""Watches over GraphQL-SSE against a real server: list + watch, resume, EXPIRED, order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitstore.domain.errors import Unavailable
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
            assert response.headers["x-request-id"]
            events = _events(response)
            first = [next(events)["data"]["watchResources"] for _ in range(3)]
            assert [
                (e["type"], e["object"]["metadata"]["name"] if e["object"] else None) for e in first
            ] == [("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
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


def test_resume_from_a_version_and_expired_when_too_old(tmp_path: Path) -> None:
    with watch_server(tmp_path, _queue_url("sqlite", tmp_path), retain=5) as server:
        repo = server.public
        for i in range(10):
            server.write(repo, "Product", f"p{i}")
        with _open(server, {"repo": repo, "rv": "7"}) as response:
            events = _events(response)
            got = [next(events)["data"]["watchResources"]["resourceVersion"] for _ in range(3)]
            assert got == ["8", "9", "10"]
            server.write(repo, "Product", "late")
            assert next(events)["data"]["watchResources"]["resourceVersion"] == "11"
        with _open(server, {"repo": repo, "rv": "2"}) as response:
            events = list(_events(response))  # ends: complete
            assert [e["data"]["watchResources"]["type"] for e in events] == ["EXPIRED"]


def test_drafts_only_for_those_who_may_read_drafts(tmp_path: Path) -> None:
    with watch_server(tmp_path, _queue_url("sqlite", tmp_path)) as server:
        server.write(server.drafts, "Product", "secret")
        with _open(server, {"repo": server.drafts}) as response:
            (event,) = list(_events(response))
            assert event["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", event
        with _open(server, {"repo": server.drafts}, server.token) as response:
            event = next(_events(response))
            assert event.get("data"), event
            first = event["data"]["watchResources"]
            assert first["object"]["metadata"]["name"] == "secret"


def test_refusals_before_execution_are_next_events(tmp_path: Path) -> None:
    with watch_server(tmp_path, _queue_url("sqlite", tmp_path)) as server:
        variables = {"repo": server.public, "rv": "abc"}
        with _open(server, variables) as response:
            assert response.status_code == 200
            (event,) = list(_events(response))
            assert "resourceVersion must be a decimal integer" in event["errors"][0]["message"]
        with server.api.client.stream(
            "POST",
            "/graphql",
            json={"query": "subscription { nope }"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            (event,) = list(_events(response))
            assert "nope" in event["errors"][0]["message"]


def test_slow_consumer_is_cut_off_with_a_reason(tmp_path: Path) -> None:
    overrides = {"watch.watcher_buffer": 20}
    with watch_server(tmp_path, _queue_url("sqlite", tmp_path), **overrides) as server:
        repo = server.public
        big = {"blob": "x" * 65536}
        with _open(server, {"repo": repo, "rv": "0"}) as response:
            # never read while 600 x 64 KiB of changes are written: socket buffers fill,
            # the stream's outbox fills, then the watcher's buffer of 20
            for i in range(600):
                server.write(repo, "Product", f"p{i}", big)
            last = None
            for event in _events(response):
                last = event
            assert last is not None
            error = last["errors"][0]
            assert error["extensions"]["code"] == "RESOURCE_EXHAUSTED"
            assert "read too slowly" in error["message"]
        assert server.api.services.watch_cache().watcher_count == 0
        metrics = server.api.client.get("/metrics").text
        assert 'gitstore_api_watch_cutoffs_total{reason="slow_consumer"} 1.0' in metrics
        assert "gitstore_api_watchers 0.0" in metrics


def test_bookmarks_carry_the_latest_version_and_catch_lost_pokes(tmp_path: Path) -> None:
    overrides = {"watch.bookmark_seconds": 0.2}
    with watch_server(tmp_path, _queue_url("sqlite", tmp_path), **overrides) as server:
        repo = server.public
        server.write(repo, "Product", "a")
        with _open(server, {"repo": repo, "rv": "1"}) as response:
            events = _events(response)
            bookmark = next(events)["data"]["watchResources"]
            assert (bookmark["type"], bookmark["resourceVersion"]) == ("BOOKMARK", "1")
            # a change whose poke never arrives: the next tick reads the store's version
            lost = server.write(repo, "Product", "b", poke=False)
            while True:
                event = next(events)["data"]["watchResources"]
                if event["type"] != "BOOKMARK":
                    break
            assert (event["type"], event["resourceVersion"]) == (
                "ADDED",
                str(lost),
            )


def test_a_store_outage_ends_the_watch_with_unavailable(tmp_path: Path) -> None:
    with watch_server(tmp_path, _queue_url("sqlite", tmp_path)) as server:

        async def down(_repository_id: str) -> int:
            raise Unavailable("the resource store is unreachable")

        server.feed.current_version = down  # type: ignore[method-assign]
        with _open(server, {"repo": server.public}) as response:
            (event,) = list(_events(response))
            assert event["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
            assert event["errors"][0]["message"] == "the resource store is unreachable"
