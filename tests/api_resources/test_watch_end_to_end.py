"""End to end across issue 10's parts: a product written with ``applyManifests`` goes through
the real git service, the real worker projects it into the resource store and announces it on
the queue, and a ``watchProducts`` subscription over GraphQL-SSE (distinct connections, real
HTTP) sees it ADDED; a status write is MODIFIED with the status, a delete is DELETED. Nothing
here is a double: the API's watch cache reads the same resource store the worker writes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack, running_worker, start_stack
from tests.catalog_writes.ops import APPLY, make_repository
from tests.sse.harness import sse_events
from tests.support.graphql_ops import mutate, ok, person

WATCH = """
subscription($repo: String!, $rv: String) {
  watchProducts(repository: $repo, resourceVersion: $rv) { type resourceVersion object }
}"""
STATUS = """
mutation($input: UpdateProductStatusInput!) {
  updateProductStatus(input: $input) { resource { resourceVersion } userErrors { code message } }
}"""
DELETE = """
mutation($input: DeleteProductInput!) {
  deleteProduct(input: $input) { userErrors { code message } }
}"""


def product(name: str, title: str) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": {"title": title, "price": {"amount": "10.00", "currency": "EUR"}},
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("watch-e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


class Watcher:
    """One subscription read on a thread; ``next()`` gives its events in order."""

    def __init__(self, base_url: str, token: str, variables: dict[str, Any]) -> None:
        self.events: queue.Queue[Any] = queue.Queue()
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(60, read=60))
        self._thread = threading.Thread(target=self._read, args=(token, variables), daemon=True)
        self._thread.start()

    def _read(self, token: str, variables: dict[str, Any]) -> None:
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
        body = {"query": WATCH, "variables": variables}
        try:
            with self._client.stream("POST", "/graphql", json=body, headers=headers) as response:
                for event, data in sse_events(response):
                    if event == "next":
                        self.events.put(data["data"]["watchProducts"])
        except httpx.HTTPError as exc:  # closed at the end of the test
            self.events.put(exc)

    def next(self, skip_bookmarks: bool = True) -> dict[str, Any]:
        while True:
            item = self.events.get(timeout=60)
            assert not isinstance(item, Exception), item
            if not (skip_bookmarks and item["type"] == "BOOKMARK"):
                return dict(item)

    def close(self) -> None:
        self._client.close()


def test_writes_reach_a_watcher_through_git_worker_and_store(
    stack: Stack, worker: WorkerService
) -> None:
    owner = person(stack.api)
    repo = make_repository(stack.api, owner)
    ok(
        mutate(
            stack.api,
            APPLY,
            {
                "repository": repo,
                "manifests": [{"manifest": product("mug", "Mug")}],
                "waitForIndex": True,
                "indexTimeout": 30.0,
            },
            owner.token,
        )
    )
    # watch from "now" (no resourceVersion): the existing product arrives as ADDED first
    watcher = Watcher(stack.api.base_url, owner.token, {"repo": repo})
    try:
        first = watcher.next()
        assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "mug"
        assert first["object"]["spec"]["title"] == "Mug"
        ok(
            mutate(
                stack.api,
                APPLY,
                {"repository": repo, "manifests": [{"manifest": product("cup", "Cup")}]},
                owner.token,
            )
        )
        added = watcher.next()
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "cup"
        assert int(added["resourceVersion"]) > int(first["resourceVersion"])
        written = ok(
            mutate(
                stack.api,
                STATUS,
                {
                    "repository": repo,
                    "name": "cup",
                    "resourceVersion": added["resourceVersion"],
                    "status": {"conditions": []},
                },
                owner.token,
            )
        )
        modified = watcher.next()
        assert modified["type"] == "MODIFIED"
        assert modified["resourceVersion"] == written["resource"]["resourceVersion"]
        assert modified["object"]["status"] == {"conditions": []}
        assert modified["object"]["metadata"]["generation"] == 1  # status is not spec
        ok(mutate(stack.api, DELETE, {"repository": repo, "name": "mug"}, owner.token))
        deleted = watcher.next()
        assert deleted["type"] == "DELETED" and deleted["object"]["metadata"]["name"] == "mug"
    finally:
        watcher.close()
