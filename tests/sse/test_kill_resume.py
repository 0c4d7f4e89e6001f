"""kill -9 of the API process mid-watch: the client resumes from its last resourceVersion on a
new process (the watch cache rebuilt from the store) and nothing is lost or repeated; SIGTERM
ends open streams so the process exits instead of waiting on them."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from gitstore.backends.metadata.base import PublishMode, Tier, Visibility
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.backends.queue.factory import open_queue
from gitstore.domain.events import ResourceChangedEvent
from tests.sse.harness import WATCH, sse_events
from tests.sse.sqlite_feed import SqliteFeed
from tests.support.processes import LoggedProcess

READY = re.compile(r"API listening on (http://\S+)")


class ApiProcess(LoggedProcess):
    url = ""

    def _ready(self, line: str) -> bool:
        found = READY.search(line)
        if found:
            self.url = found.group(1)
        return found is not None


def _setup(tmp_path: Path) -> tuple[dict[str, str], str]:
    db_url = f"sqlite:///{tmp_path / 'meta.sqlite3'}"

    async def go() -> str:
        store = open_metadata_store(db_url)
        await store.migrate()
        ns = await store.create_namespace(
            "shop", Tier.USER, display_name="", parent_enterprise_id=None, created_by="someone"
        )
        record = await store.create_repository(
            ns.id,
            "catalog",
            description="",
            publish_mode=PublishMode.ON_COMMIT,
            default_branch="main",
            visibility=Visibility.PUBLIC,
            created_by="someone",
        )
        await store.close()
        return record.repository_id

    repo = asyncio.run(go())
    env = {
        "GITSTORE_DATA_DIR": str(tmp_path / "data"),
        "GITSTORE_DB__URL": db_url,
        "GITSTORE_QUEUE__URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        "GITSTORE_API__PORT": "0",
        "GITSTORE_API__JWT_SECRET": "k" * 64,
        "GITSTORE_HOOK__GRPC__PORT": "0",
        "GITSTORE_WATCH__GROUP": "watch-test",
    }
    return env, repo


def _start(tmp_path: Path, env: dict[str, str]) -> ApiProcess:
    process = ApiProcess(
        [sys.executable, "-m", "tests.sse.serve", str(tmp_path / "feed.sqlite3")], "api", env
    )
    process._spawn(60)
    return process


def _write(tmp_path: Path, feed: SqliteFeed, repo: str, first: int, count: int) -> None:
    async def go() -> None:
        queue = await open_queue(f"sqlite:///{tmp_path / 'queue.sqlite3'}", stream="resources")
        for i in range(first, first + count):
            version = feed.put(repo, "Product", f"p{i % 7}", {"n": i})
            await queue.publish(ResourceChangedEvent(repo, version).to_json(), key=repo)
        await queue.close()

    asyncio.run(go())


def _versions(events: Iterator[tuple[str, Any]]) -> Iterator[int]:
    for event, data in events:
        assert event == "next", event
        watched = data["data"]["watchResources"]
        if watched["type"] != "BOOKMARK":
            yield int(watched["resourceVersion"])


def _watch(url: str, repo: str, rv: int) -> httpx.Response:
    client = httpx.Client(base_url=url, timeout=30)
    request = client.build_request(
        "POST",
        "/graphql",
        json={"query": WATCH, "variables": {"repo": repo, "rv": str(rv)}},
        headers={"Accept": "text/event-stream"},
    )
    return client.send(request, stream=True)


def test_kill_9_mid_watch_then_resume_loses_nothing(tmp_path: Path) -> None:
    env, repo = _setup(tmp_path)
    feed = SqliteFeed(tmp_path / "feed.sqlite3")
    first = _start(tmp_path, env)
    seen: list[int] = []
    try:
        _write(tmp_path, feed, repo, 0, 100)
        response = _watch(first.url, repo, 0)
        versions = _versions(sse_events(response))
        while len(seen) < 60:
            seen.append(next(versions))
        first.kill()  # mid-watch: 40 changes written and not yet read
        response.close()
    finally:
        first.close()
    _write(tmp_path, feed, repo, 100, 100)  # while no API runs
    second = _start(tmp_path, env)
    try:
        response = _watch(second.url, repo, seen[-1])
        events = sse_events(response)
        versions = _versions(events)
        while seen[-1] < 200:
            seen.append(next(versions))
        _write(tmp_path, feed, repo, 200, 10)  # live again, through the queue
        while seen[-1] < 210:
            seen.append(next(versions))
        assert seen == list(range(1, 211))
        # SIGTERM with the stream still open: it ends (UNAVAILABLE), the process exits 0
        assert second.terminate(30) == 0, second.log
        rest = list(events)
        assert rest[-1][0] == "complete"
        assert rest[-2][1]["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        response.close()
    finally:
        second.close()
        feed.close()
