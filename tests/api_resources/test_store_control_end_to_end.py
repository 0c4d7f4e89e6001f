"""The control plane on a store endpoint (``/<namespace>/<repo>/graphql``), end to end: a
custom kind ``Brand`` with a ``statusSchema`` and a brand are applied through the real git
service, the real worker feeds the resource store, and on the store endpoint — no
``repository`` anywhere — ``watchBrands`` over GraphQL-SSE (distinct connections and single
connection, real HTTP; the reference JavaScript client in both modes) sees ADDED,
``updateBrandStatus`` is validated against the kind's statusSchema, refuses a stale
resourceVersion with CONFLICT (nothing changes), and its write reaches the watchers as
MODIFIED."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack, running_worker, start_stack
from tests.catalog_writes.ops import APPLY, make_repository
from tests.sse.harness import sse_events
from tests.sse.test_js_client import JS, reference_client
from tests.support.graphql_ops import Person, error_of, mutate, ok, person
from tests.support.kinds import brand, brand_kind

WATCH = "subscription { watchBrands { type resourceVersion object } }"
UPDATE = """
mutation($input: UpdateBrandStatusInput!) {
  updateBrandStatus(input: $input) {
    resource { resourceVersion status } userErrors { field message code }
  }
}"""
READ = """
query { resource(kind: "Brand", name: "acme") { resourceVersion status }
        resources(kind: "Brand") { resourceVersion items { name } } }"""
TOKEN = "X-GraphQL-Event-Stream-Token"


def kind_with_status() -> dict[str, Any]:
    kind = brand_kind()
    kind["spec"]["versions"][0]["statusSchema"] = {
        "type": "object",
        "properties": {"stock": {"type": "integer"}, "note": {"type": "string"}},
    }
    return kind


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("store-control-e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


@pytest.fixture
def repo(stack: Stack, owner: Person, worker: WorkerService) -> str:
    """A private repository holding ``Brand`` (with statusSchema) and the brand ``acme``."""
    name = make_repository(stack.api, owner)
    manifests = [{"manifest": m} for m in (kind_with_status(), brand("acme"))]
    ok(
        mutate(
            stack.api,
            APPLY,
            {"repository": name, "manifests": manifests, "waitForIndex": True, "indexTimeout": 30},
            owner.token,
        )
    )
    return name


def store_post(stack: Stack, repo: str, body: dict[str, Any], token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = stack.api.client.post(
        f"{stack.api.base_url}/{repo}/graphql", json=body, headers=headers
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert "errors" not in result, result
    return result["data"]


def update(stack: Stack, repo: str, token: str, version: str, status: Any) -> dict[str, Any]:
    variables = {"input": {"name": "acme", "resourceVersion": version, "status": status}}
    data = store_post(stack, repo, {"query": UPDATE, "variables": variables}, token)
    payload: dict[str, Any] = data["updateBrandStatus"]
    return payload


class Watcher:
    """One store-endpoint subscription (distinct connections) read on a thread."""

    def __init__(self, stack: Stack, repo: str, token: str | None) -> None:
        self.events: queue.Queue[Any] = queue.Queue()
        self._client = httpx.Client(base_url=stack.api.base_url, timeout=httpx.Timeout(60))
        self._thread = threading.Thread(target=self._read, args=(repo, token), daemon=True)
        self._thread.start()

    def _read(self, repo: str, token: str | None) -> None:
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with self._client.stream(
                "POST", f"/{repo}/graphql", json={"query": WATCH}, headers=headers
            ) as response:
                for event, data in sse_events(response):
                    self.events.put((event, data))
        except httpx.HTTPError as exc:  # closed at the end of the test
            self.events.put(exc)

    def next(self) -> dict[str, Any]:
        while True:
            item = self.events.get(timeout=60)
            assert not isinstance(item, Exception), item
            event, data = item
            assert event == "next", item
            assert "errors" not in data, data
            found: dict[str, Any] = data["data"]["watchBrands"]
            if found["type"] != "BOOKMARK":
                return found

    def close(self) -> None:
        self._client.close()


def test_status_writes_and_watch_on_the_store_endpoint(
    stack: Stack, owner: Person, repo: str
) -> None:
    watcher = Watcher(stack, repo, owner.token)
    try:
        added = watcher.next()
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "acme"
        assert added["object"]["kind"] == "Brand"
        version = added["resourceVersion"]

        bad = error_of(update(stack, repo, owner.token, version, {"stock": "many"}))
        assert bad["code"] == "INVALID_ARGUMENT" and "status.stock" in bad["message"]
        written = ok(update(stack, repo, owner.token, version, {"stock": 3}))
        assert written["resource"]["status"] == {"stock": 3}
        assert int(written["resource"]["resourceVersion"]) > int(version)

        modified = watcher.next()
        assert modified["type"] == "MODIFIED"
        assert modified["resourceVersion"] == written["resource"]["resourceVersion"]
        assert modified["object"]["status"] == {"stock": 3}

        stale = error_of(update(stack, repo, owner.token, version, {"stock": 9}))
        assert stale["code"] == "CONFLICT"
        read = store_post(stack, repo, {"query": READ}, owner.token)
        assert read["resource"] == written["resource"]  # the stale write changed nothing
        assert [i["name"] for i in read["resources"]["items"]] == ["acme"]
    finally:
        watcher.close()


def test_single_connection_mode_on_the_store_endpoint(
    stack: Stack, owner: Person, repo: str
) -> None:
    client, url = stack.api.client, f"{stack.api.base_url}/{repo}/graphql"
    auth = {"Authorization": f"Bearer {owner.token}"}
    reserved = client.put(url, headers=auth)
    assert reserved.status_code == 201, reserved.text
    token = {TOKEN: reserved.text}
    with client.stream("GET", url, headers={**auth, **token, "Accept": "text/event-stream"}) as s:
        assert s.status_code == 200
        accepted = client.post(
            url,
            json={"query": WATCH, "extensions": {"operationId": "brands"}},
            headers={**auth, **token},
        )
        assert accepted.status_code == 202, accepted.text
        events = sse_events(s)

        def next_change() -> dict[str, Any]:
            while True:
                event, data = next(events)
                assert (event, data["id"]) == ("next", "brands"), data
                found: dict[str, Any] = data["payload"]["data"]["watchBrands"]
                if found["type"] != "BOOKMARK":
                    return found

        added = next_change()
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "acme"
        ok(update(stack, repo, owner.token, added["resourceVersion"], {"note": "hello"}))
        modified = next_change()
        assert modified["type"] == "MODIFIED" and modified["object"]["status"] == {"note": "hello"}


def test_the_store_endpoint_refuses_a_watch_of_a_repository_the_caller_cannot_read(
    stack: Stack, repo: str
) -> None:
    stranger = person(stack.api)
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {stranger.token}"}
    with stack.api.client.stream(
        "POST", f"{stack.api.base_url}/{repo}/graphql", json={"query": WATCH}, headers=headers
    ) as response:
        assert response.status_code == 200  # the protocol's refusal: one next, then complete
        got = list(sse_events(response))
    assert [event for event, _ in got] == ["next", "complete"]
    (error,) = got[0][1]["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"


def test_both_routes_share_one_limit_of_open_streams(
    stack: Stack, owner: Person, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # streams of the tests before end when the server sees their clients gone: wait for it
    gauge = stack.api.services.metrics.event_streams
    deadline = time.monotonic() + 60
    while (open_now := gauge.collect()[0].samples[0].value) > 0:
        assert time.monotonic() < deadline, f"{open_now} streams still open"
        time.sleep(0.05)
    monkeypatch.setattr(stack.api.services.settings.watch, "max_streams", 1)
    watcher = Watcher(stack, repo, owner.token)
    try:
        assert watcher.next()["type"] == "ADDED"  # its stream is open: the one allowed
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {owner.token}"}
        body = {"query": WATCH}
        for path in (f"/{repo}/graphql", "/graphql"):
            refused = stack.api.client.post(
                f"{stack.api.base_url}{path}", json=body, headers=headers
            )
            assert refused.status_code == 503, (path, refused.text)
            assert "too many open event streams" in refused.text
    finally:
        watcher.close()


@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_the_reference_client_watches_a_custom_kind_on_the_store_endpoint(
    stack: Stack, owner: Person, repo: str, mode: str
) -> None:
    node = reference_client()
    url = f"{stack.api.base_url}/{repo}/graphql"
    with subprocess.Popen(
        [node, str(JS / "watch.mjs"), url, mode, repo, "3", owner.token, WATCH],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]  # ADDED acme, BOOKMARK
        added = json.loads(lines[0])["data"]["watchBrands"]
        ok(update(stack, repo, owner.token, added["resourceVersion"], {"stock": 1}))
        lines.append(process.stdout.readline())
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
    events = [json.loads(line)["data"]["watchBrands"] for line in lines]
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK", "MODIFIED"]
    assert events[2]["object"]["status"] == {"stock": 1}
