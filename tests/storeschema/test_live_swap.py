"""The live swap of issue 9: a client keeps querying a store endpoint (a real server, over HTTP)
while 20 kind changes arrive — pushed with a stock ``git push`` (Smart HTTP, real hooks) and
written through the store endpoint's own mutations — adding, changing and removing kinds, and
invalid ones. No request fails; each change is visible before a 2 s deadline (polled, no
timing assertion beyond that); an invalid change leaves the last good schema served, and the
one that reached the branch past the checks is reported by ``schemaStatus``. (A request in
flight finishing on the schema it started with: ``test_store_mutations``.)"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api_git.harness import GitStack, start_git_stack
from tests.support.graphql_ops import Person
from tests.worker.harness import commit

SPEC_FIELDS = {"title", "country", "city", "zip", "text", "color", "site", "dock", "street"}
VISIBLE_WITHIN = 2.0  # seconds: the bound, polled as a deadline
PAYLOAD = "committed commit userErrors { field message code }"
APPLY = f"""mutation($input: ApplyManifestsInput!) {{
  applyManifests(input: $input) {{ {PAYLOAD} }} }}"""
UPSERT_KIND = f"""mutation($input: UpsertKindDefinitionInput!) {{
  upsertKindDefinition(input: $input) {{ {PAYLOAD} }} }}"""
DELETE_KIND = f"""mutation($input: DeleteKindDefinitionInput!) {{
  deleteKindDefinition(input: $input) {{ {PAYLOAD} }} }}"""
STEADY = "{ schemaStatus { fingerprint } catalog { version } __schema { queryType { name } } }"


def kind(singular: str, fields: tuple[str, ...], group: str = "acme.example") -> dict[str, Any]:
    """A ``KindDefinition`` of kind ``<Singular>`` with string ``fields``."""
    name = singular[:1].upper() + singular[1:]
    schema = {"type": "object", "properties": {f: {"type": "string"} for f in fields}}
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": f"{singular}s"},
        "spec": {
            "group": group,
            "names": {"kind": name, "plural": f"{singular}s", "singular": singular},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
        },
    }


def invalid_kind() -> dict[str, Any]:
    """Refused by every write path: no storage version."""
    bad = kind("gadget", ("title",))
    bad["spec"]["versions"][0]["storage"] = False
    return bad


@pytest.fixture(scope="module")
def git_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_git_stack(tmp_path_factory.mktemp("live-swap")) as running:
        yield running


class Store:
    """One repository, its store endpoint and a clone to push from."""

    def __init__(self, stack: GitStack, work: Path) -> None:
        self.stack = stack
        self.owner: Person = stack.person()
        self.repo = stack.new_repo(self.owner)
        self.url = stack.url(self.repo, self.owner.username, stack.pat(self.owner))
        self.endpoint = f"{stack.api.base_url}/{self.repo}/graphql"
        self.work = work
        stack.git("init", "-q", "-b", "main", str(work))
        (work / "README.md").write_text("store\n")
        stack.git("add", "-A", cwd=work)
        stack.git("commit", "-q", "-m", "start", cwd=work)
        stack.git("push", "-q", self.url, "main", cwd=work)

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return self.stack.api.client.post(
            self.endpoint,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.owner.token}"},
        )

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result

    def fields(self, kind_name: str) -> set[str] | None:
        """The fields of type ``kind_name`` the endpoint serves now (None: no such type)."""
        found = self.data(f'{{ __type(name: "{kind_name}") {{ fields {{ name }} }} }}')["__type"]
        return None if found is None else {f["name"] for f in found["fields"]}

    def status(self) -> dict[str, Any]:
        query = "{ schemaStatus { fingerprint commit kinds lastFailure { commit errors } } }"
        result: dict[str, Any] = self.data(query)["schemaStatus"]
        return result

    # ------------------------------------------------------------------ git push
    def sync(self) -> None:
        self.stack.git("fetch", "-q", self.url, "main", cwd=self.work)
        self.stack.git("reset", "-q", "--hard", "FETCH_HEAD", cwd=self.work)

    def file_of(self, name: str) -> Path | None:
        for path in sorted((self.work / "kinds").rglob("*")):
            if (
                path.is_file()
                and (yaml.safe_load(path.read_text()) or {}).get("metadata", {}).get("name") == name
            ):
                return path
        return None

    def push(
        self,
        *,
        put: dict[str, Any] | None = None,
        remove: str | None = None,
        drop: str | None = None,
    ) -> str:
        """Commit a definition put or removed (and the file ``drop`` deleted) and push it;
        the push's stderr (``REFUSED`` first when it was refused)."""
        self.sync()
        if drop is not None:
            (self.work / drop).unlink()
        if put is not None:
            path = self.file_of(put["metadata"]["name"]) or (
                self.work / "kinds" / f"{put['metadata']['name']}.json"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(put))
        if remove is not None:
            path = self.file_of(remove)
            assert path is not None, remove
            path.unlink()
        self.stack.git("add", "-A", cwd=self.work)
        self.stack.git("commit", "-q", "-m", "kinds", cwd=self.work)
        pushed = self.stack.git("push", self.url, "main", cwd=self.work, check=False)
        return pushed.stderr if pushed.returncode == 0 else "REFUSED\n" + pushed.stderr

    # ------------------------------------------------------------------ API
    def apply(self, definition: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = self.data(
            APPLY, {"input": {"manifests": [{"manifest": definition}]}}
        )["applyManifests"]
        return payload

    def upsert(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Through the typed ``upsertKindDefinition`` (its spec as flat input fields)."""
        variables = {"input": {"name": definition["metadata"]["name"], **definition["spec"]}}
        payload: dict[str, Any] = self.data(UPSERT_KIND, variables)["upsertKindDefinition"]
        return payload

    def delete(self, name: str) -> dict[str, Any]:
        payload: dict[str, Any] = self.data(DELETE_KIND, {"input": {"name": name}})[
            "deleteKindDefinition"
        ]
        return payload


class Client(threading.Thread):
    """Queries the store endpoint until stopped; keeps every failed response."""

    def __init__(self, store: Store) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stop = threading.Event()
        self.count = 0
        self.failures: list[str] = []

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.store.owner.token}"}
        with httpx.Client(timeout=30, headers=headers) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(self.store.endpoint, json={"query": STEADY})
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                self.count += 1
                if response.status_code != 200 or "errors" in response.json():
                    self.failures.append(f"{response.status_code} {response.text[:300]}")


def visible(probe: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + VISIBLE_WITHIN
    while not probe():
        assert time.monotonic() < deadline, f"not visible within {VISIBLE_WITHIN} s: {what}"
        time.sleep(0.02)


def test_twenty_kind_changes_while_a_client_queries(git_stack: GitStack, tmp_path: Path) -> None:
    store = Store(git_stack, tmp_path / "work")
    assert store.status()["kinds"] == []
    client = Client(store)
    client.start()
    changes = 0

    def expect(kind_name: str, fields: set[str] | None) -> None:
        """``kind_name`` served with exactly ``fields`` of the test's spec fields (None: not
        served); the envelope and any other platform fields are not compared."""
        nonlocal changes
        changes += 1

        def shown() -> bool:
            served = store.fields(kind_name)
            if served is None or fields is None:
                return served is fields
            return served & SPEC_FIELDS == fields

        visible(shown, f"change {changes}: {kind_name}")

    def refused(outcome: str | dict[str, Any]) -> None:
        nonlocal changes
        changes += 1
        before = store.status()["fingerprint"]
        if isinstance(outcome, str):
            assert outcome.startswith("REFUSED") and "kinds/" in outcome, outcome
        else:
            assert not outcome["committed"] and outcome["userErrors"], outcome
        assert store.status()["fingerprint"] == before

    try:
        store.push(put=kind("brand", ("title",)))  # 1 add (push)
        expect("Brand", {"title"})
        assert store.apply(kind("shop", ("city",)))["committed"]  # 2 add (API)
        expect("Shop", {"city"})
        store.push(put=kind("brand", ("title", "country")))  # 3 change (push)
        expect("Brand", {"title", "country"})
        assert store.upsert(kind("shop", ("city", "zip")))["committed"]  # 4 change (typed API)
        expect("Shop", {"city", "zip"})
        refused(store.push(put=invalid_kind()))  # 5 invalid (push)
        refused(store.apply(invalid_kind()))  # 6 invalid (API)
        store.push(put=kind("label", ("text",)))  # 7 add (push)
        expect("Label", {"text"})
        assert store.delete("shops")["committed"]  # 8 remove (API)
        expect("Shop", None)
        store.push(put=kind("label", ("text", "color")))  # 9 change (push)
        expect("Label", {"text", "color"})
        assert store.apply(kind("warehouse", ("site",)))["committed"]  # 10 add (API)
        expect("Warehouse", {"site"})
        clash = kind("product", ("title",))  # the built-in plural "products"
        refused(store.push(put=clash))  # 11 invalid (push)
        assert store.upsert(kind("warehouse", ("site", "dock")))["committed"]  # 12 change
        expect("Warehouse", {"site", "dock"})
        store.push(remove="labels")  # 13 remove (push)
        expect("Label", None)
        refused(store.apply(clash))  # 14 invalid (API)
        store.push(put=kind("shop", ("city",)))  # 15 add again (push)
        expect("Shop", {"city"})
        assert store.apply(kind("brand", ("title",)))["committed"]  # 16 change (API)
        expect("Brand", {"title"})

        # 17 invalid, past the checks: written straight through the git service (an
        # operator's tool, an import); only the TTL safety net sees this one
        good = store.status()
        services = git_stack.api.services
        namespace, name = store.repo.split("/")
        record = git_stack.api.run(services.store.get_repository_by_name(namespace, name))
        assert record is not None
        broken = json.dumps(invalid_kind()).encode()
        landed = git_stack.api.run(
            commit(
                services.git(), record.repository_id, {"kinds/broken.json": broken}, branch="main"
            )
        ).commit_sha
        changes += 1

        def reported() -> bool:
            failure = store.status()["lastFailure"]
            return failure is not None and failure["commit"] == landed

        visible(reported, "change 17: the broken definition in schemaStatus")
        after = store.status()
        assert after["fingerprint"] == good["fingerprint"]  # the last good kinds, still served
        assert after["kinds"] == good["kinds"]
        assert any("kinds/broken.json" in e for e in after["lastFailure"]["errors"]), after

        # 18 the broken file removed and Shop changed (push)
        store.push(put=kind("shop", ("city", "street")), drop="kinds/broken.json")
        expect("Shop", {"city", "street"})
        assert store.status()["lastFailure"] is None
        assert store.delete("warehouses")["committed"]  # 19 remove (API)
        expect("Warehouse", None)
        store.push(remove="brands")  # 20 remove (push)
        expect("Brand", None)
    finally:
        client.stop.set()
        client.join(timeout=60)
    assert changes == 20
    assert client.count > 0
    assert client.failures == []


def test_pushes_refresh_at_once_without_the_ttl(git_stack: GitStack, tmp_path: Path) -> None:
    """Post-receive refreshes the store schema before the push returns: with the TTL at an
    hour, the pushed kind is served by the very next request."""
    store = Store(git_stack, tmp_path / "work")
    schemas = git_stack.api.services.store_schemas
    assert store.status()["kinds"] == []  # the repository is served
    schemas.ttl = 3600.0
    try:
        store.push(put=kind("brand", ("title",)))
        assert store.fields("Brand") is not None
        store.push(remove="brands")
        assert store.fields("Brand") is None
    finally:
        schemas.ttl = 1.0
