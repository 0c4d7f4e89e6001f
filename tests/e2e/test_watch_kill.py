"""Watches survive a crash of the real thing: ``gitstore serve`` (API, git service, worker and
the SQLite resource store in one process) is killed with SIGKILL while a client watches
products over GraphQL-SSE; after the restart the client resumes from the last
resourceVersion it saw and receives exactly the changes made since — none lost, none
repeated — in order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api_resources.test_watch_end_to_end import Watcher
from tests.e2e.flows import (
    login,
    ok,
    owner_repository,
    product_spec,
    upsert,
)
from tests.e2e.served import Served

PASSWORD = "correct-horse-battery"


@pytest.fixture
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = Served.start(tmp_path_factory.mktemp("watch-kill") / "data")
    try:
        yield server
    finally:
        server.stop()


def write(served: Served, token: str, repo: str, name: str, title: str) -> None:
    spec = product_spec(title=title)
    done = ok(upsert(served, token, repo, name, spec, waitForIndex=True, indexTimeout=60.0))
    assert done["indexing"]["state"] == "INDEXED", done


def changes(watcher: Watcher, count: int) -> list[tuple[str, str, str, int]]:
    """The next ``count`` events (bookmarks skipped): type, name, title, resourceVersion."""
    got = []
    for _ in range(count):
        event: dict[str, Any] = watcher.next()
        obj = event["object"]
        got.append(
            (
                event["type"],
                obj["metadata"]["name"],
                obj["spec"]["title"],
                int(event["resourceVersion"]),
            )
        )
    return got


def test_kill_9_of_serve_mid_watch_then_resume_from_the_last_version(served: Served) -> None:
    token, repo = owner_repository(served, PASSWORD, "shop", "crash")
    for name in ("a", "b", "c"):
        write(served, token, repo, name, name.upper())

    watcher = Watcher(served.url, token, {"repo": repo})
    try:
        initial = changes(watcher, 3)
        assert sorted((t, n) for t, n, _, _ in initial) == [("ADDED", n) for n in "abc"]
        write(served, token, repo, "d", "D")
        [live] = changes(watcher, 1)
        assert live[:3] == ("ADDED", "d", "D")
        last = max(v for *_, v in [*initial, live])
    finally:
        watcher.close()

    assert served.restart("serve", hard=True) == -9  # SIGKILL: no shutdown code ran
    token = login(served, "owner", PASSWORD)
    write(served, token, repo, "e", "E")
    write(served, token, repo, "a", "A2")
    write(served, token, repo, "f", "F")

    resumed = Watcher(served.url, token, {"repo": repo, "rv": str(last)})
    try:
        after = changes(resumed, 3)
    finally:
        resumed.close()
    assert [(t, n, title) for t, n, title, _ in after] == [
        ("ADDED", "e", "E"),
        ("MODIFIED", "a", "A2"),
        ("ADDED", "f", "F"),
    ]
    versions = [v for *_, v in after]
    assert versions == sorted(versions) and versions[0] > last
