"""Label-selector watches follow objects in and out of their selection (Kubernetes'
semantics), end to end: labels changed through Git (``applyManifests``, the real git service
and worker) and through ``updateResourceMetadata``; watched over GraphQL-SSE on ``/graphql``
(distinct connections) and on the store endpoint (single connection), and resumed from a
resourceVersion. An object that stops matching arrives as DELETED, one that starts matching
as ADDED."""

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
from tests.support.graphql_ops import Person, mutate, ok, person

GLOBAL = """
subscription($repo: String!, $rv: String) {
  watchProducts(repository: $repo, resourceVersion: $rv, labelSelector: "tier=gold") {
    type resourceVersion object }
}"""
STORE = """subscription {
  watchResources(kind: "Product", labelSelector: "tier=gold") { type resourceVersion object }
}"""
METADATA = """
mutation($input: UpdateResourceMetadataInput!) {
  updateResourceMetadata(input: $input) { resource { resourceVersion } userErrors { code } }
}"""
TOKEN = "X-GraphQL-Event-Stream-Token"


def product(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name, "labels": labels},
        "spec": {"title": name.title(), "price": {"amount": "10.00", "currency": "EUR"}},
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("watch-selector")) as running:
        yield running


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


def apply(stack: Stack, owner: Person, repo: str, *manifests: dict[str, Any]) -> None:
    variables = {
        "repository": repo,
        "manifests": [{"manifest": m} for m in manifests],
        "waitForIndex": True,
        "indexTimeout": 30,
    }
    ok(mutate(stack.api, APPLY, variables, owner.token))


class Stream:
    """Events of one subscription read on a thread (``post`` opens it in distinct
    connections mode; ``single`` opens a single-connection stream on a store endpoint)."""

    def __init__(self) -> None:
        self.events: queue.Queue[Any] = queue.Queue()
        self.client = httpx.Client(timeout=httpx.Timeout(60))

    def post(self, url: str, token: str, body: dict[str, Any], field: str) -> Stream:
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}

        def read() -> None:
            try:
                with self.client.stream("POST", url, json=body, headers=headers) as response:
                    for event, data in sse_events(response):
                        if event == "next":
                            self.events.put(data["data"][field])
            except httpx.HTTPError as exc:  # closed at the end of the test
                self.events.put(exc)

        threading.Thread(target=read, daemon=True).start()
        return self

    def single(self, url: str, token: str, query: str, field: str) -> Stream:
        auth = {"Authorization": f"Bearer {token}"}
        reserved = self.client.put(url, headers=auth)
        assert reserved.status_code == 201, reserved.text
        headers = {**auth, TOKEN: reserved.text}
        opened = threading.Event()

        def read() -> None:
            try:
                with self.client.stream(
                    "GET", url, headers={**headers, "Accept": "text/event-stream"}
                ) as response:
                    opened.set()
                    for event, data in sse_events(response):
                        if event == "next":
                            self.events.put(data["payload"]["data"][field])
            except httpx.HTTPError as exc:
                self.events.put(exc)

        threading.Thread(target=read, daemon=True).start()
        assert opened.wait(30)
        body = {"query": query, "extensions": {"operationId": "gold"}}
        accepted = self.client.post(url, json=body, headers=headers)
        assert accepted.status_code == 202, accepted.text
        return self

    def next(self) -> dict[str, Any]:
        while True:
            item = self.events.get(timeout=60)
            assert not isinstance(item, Exception), item
            if item["type"] != "BOOKMARK":
                return dict(item)

    def until_bookmark(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while True:
            item = self.events.get(timeout=60)
            assert not isinstance(item, Exception), item
            if item["type"] == "BOOKMARK":
                return got
            got.append(item)

    def close(self) -> None:
        self.client.close()


def seen(event: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    meta = event["object"]["metadata"]
    return event["type"], meta["name"], meta["labels"]


def test_objects_leave_and_enter_a_selection_on_both_endpoints_and_on_resume(
    stack: Stack, worker: WorkerService
) -> None:
    owner = person(stack.api)
    repo = make_repository(stack.api, owner)
    apply(stack, owner, repo, product("mug", {"tier": "gold"}), product("cup", {}))
    base = stack.api.base_url
    on_global = Stream().post(
        f"{base}/graphql",
        owner.token,
        {"query": GLOBAL, "variables": {"repo": repo}},
        "watchProducts",
    )
    on_store = Stream().single(f"{base}/{repo}/graphql", owner.token, STORE, "watchResources")
    streams = (on_global, on_store)
    try:
        listed = [s.until_bookmark() for s in streams]
        assert [[seen(e) for e in got] for got in listed] == [
            [("ADDED", "mug", {"tier": "gold"})]
        ] * 2
        start = listed[0][0]["resourceVersion"]

        # through Git: the mug's label changes, so it leaves the selection
        apply(stack, owner, repo, product("mug", {"tier": "silver"}))
        left = [s.next() for s in streams]
        assert [seen(e) for e in left] == [("DELETED", "mug", {"tier": "silver"})] * 2
        # through a metadata write: the cup gets the label, so it enters the selection
        cup = ok(
            mutate(
                stack.api,
                METADATA,
                {
                    "repository": repo,
                    "kind": "Product",
                    "name": "cup",
                    "resourceVersion": _version(stack, owner, repo, "cup"),
                    "labels": {"tier": "gold"},
                },
                owner.token,
            )
        )
        entered = [s.next() for s in streams]
        assert [seen(e) for e in entered] == [("ADDED", "cup", {"tier": "gold"})] * 2
        assert entered[0]["resourceVersion"] == cup["resource"]["resourceVersion"]
        # the mug changes again while out of the selection: nothing; back in: ADDED
        apply(stack, owner, repo, product("mug", {"tier": "bronze"}))
        apply(stack, owner, repo, product("mug", {"tier": "gold"}))
        back = [s.next() for s in streams]
        assert [seen(e) for e in back] == [("ADDED", "mug", {"tier": "gold"})] * 2

        # a resume from the list's version replays the same transitions, in order
        resumed = Stream().post(
            f"{base}/graphql",
            owner.token,
            {"query": GLOBAL, "variables": {"repo": repo, "rv": start}},
            "watchProducts",
        )
        try:
            replay = [resumed.next() for _ in range(3)]
            assert [(e["type"], e["resourceVersion"]) for e in replay] == [
                (e["type"], e["resourceVersion"]) for e in (left[0], entered[0], back[0])
            ]
        finally:
            resumed.close()
    finally:
        for s in streams:
            s.close()


def _version(stack: Stack, owner: Person, repo: str, name: str) -> str:
    query = """query($repo: String!, $name: String!) {
      resource(repository: $repo, kind: "Product", name: $name) { resourceVersion } }"""
    response = stack.api.client.post(
        f"{stack.api.base_url}/graphql",
        json={"query": query, "variables": {"repo": repo, "name": name}},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    version: str = response.json()["data"]["resource"]["resourceVersion"]
    return version
