"""A store endpoint follows kind changes live: a client keeps querying while a kind is added,
changed, refused (invalid), and removed; no request fails and each change shows up within a
generous deadline (polling, no timing assertion). A candidate that fails to build keeps the
last known-good schema and ``schemaStatus`` says why."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from gitstore.api.storeschema.schemas import BUILTIN, CandidateError
from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import REVERT, Person, mutate, ok
from tests.catalog_writes.test_custom_kinds import apply, brand, brand_kind, worker

from .test_store_endpoint import data, eventually, store_query

__all__ = ["worker"]

STATUS = "{ schemaStatus { fingerprint commit kinds lastFailure { errors } } catalog { version } }"


class Client(threading.Thread):
    """Queries the store endpoint until stopped; keeps every failed response."""

    def __init__(self, stack: Stack, repo: str, token: str) -> None:
        super().__init__(daemon=True)
        self.stack, self.repo, self.token = stack, repo, token
        self.stop = threading.Event()
        self.count = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                response = store_query(self.stack, self.repo, STATUS, self.token, client)
                self.count += 1
                if response.status_code != 200 or "errors" in response.json():
                    self.failures.append(f"{response.status_code} {response.text[:300]}")


def brand_kind_with_founded() -> dict[str, Any]:
    kind = brand_kind()
    properties = kind["spec"]["versions"][0]["schema"]["properties"]
    properties["founded"] = {"type": "integer", "minimum": 0, "maximum": 9999}
    return kind


def test_kind_changes_are_served_live_without_failed_requests(
    stack: Stack, owner: Person, repo: str, worker: WorkerService
) -> None:
    token = owner.token

    def status() -> dict[str, Any]:
        result: dict[str, Any] = data(store_query(stack, repo, STATUS, token))["schemaStatus"]
        return result

    assert status()["fingerprint"] == BUILTIN
    client = Client(stack, repo, token)
    client.start()
    try:
        # 1. a kind and a resource of it
        added = ok(apply(stack, owner, repo, brand_kind(), brand("acme", title="Acme")))["commit"]
        query = '{ acmeExample { brand(name: "acme") { title } } }'

        def acme() -> Any:
            response = store_query(stack, repo, query, token)
            if response.status_code != 200 or "errors" in response.json():
                return None  # the schema has not caught up yet
            return data(response)["acmeExample"]["brand"]

        eventually(lambda: acme() == {"title": "Acme"}, "the added kind")
        first = status()
        assert first["kinds"] == ["Brand"] and first["fingerprint"] != BUILTIN

        # 2. the kind changes: a new typed field
        changed = ok(
            apply(
                stack,
                owner,
                repo,
                brand_kind_with_founded(),
                brand("acme", title="A", founded=1999),
            )
        )["commit"]
        query = '{ acmeExample { brand(name: "acme") { title founded } } }'
        eventually(lambda: acme() == {"title": "A", "founded": 1999}, "the changed kind")
        second = status()
        assert second["fingerprint"] != first["fingerprint"]
        assert second["commit"] == changed

        # 3. an invalid definition is refused by the write path; the schema stays
        bad = brand_kind()
        bad["metadata"]["name"] = "products"
        bad["spec"]["names"] = {"kind": "Brand", "plural": "products", "singular": "product"}
        refused = apply(stack, owner, repo, bad)
        assert not refused["committed"] and refused["userErrors"]
        assert status()["fingerprint"] == second["fingerprint"]

        # 4. removed again: revert the change, then the addition
        ok(mutate(stack.api, REVERT, {"repository": repo, "sha": changed}, token))
        ok(mutate(stack.api, REVERT, {"repository": repo, "sha": added}, token))

        def removed() -> bool:
            return status()["fingerprint"] == BUILTIN

        eventually(removed, "the removed kind")
        gone = store_query(stack, repo, "{ acmeExample { brands { totalCount } } }", token)
        assert gone.status_code == 400
    finally:
        client.stop.set()
        client.join(timeout=60)
    assert client.count > 0
    assert client.failures == []


def test_a_failed_candidate_keeps_the_last_known_good_schema(
    stack: Stack, owner: Person, repo: str
) -> None:
    token = owner.token
    schemas = stack.api.services.store_schemas
    assert data(store_query(stack, repo, STATUS, token))["schemaStatus"]["fingerprint"] == BUILTIN

    def failing(_fp: str, _registry: Any) -> Any:
        raise CandidateError(("injected: candidate does not validate",))

    schemas._build = failing  # type: ignore[method-assign]
    try:
        # kinds no other test uses: their schema is not cached yet, so a candidate is built
        ok(apply(stack, owner, repo, brand_kind(required=("country",))))

        def failed() -> Any:
            found = data(store_query(stack, repo, STATUS, token))["schemaStatus"]
            return found if found["lastFailure"] else None

        found = eventually(failed, "the failure in schemaStatus")
        assert found["fingerprint"] == BUILTIN  # still the known-good one
        assert found["lastFailure"]["errors"] == ["injected: candidate does not validate"]
    finally:
        del schemas._build

    def recovered() -> Any:
        found = data(store_query(stack, repo, STATUS, token))["schemaStatus"]
        return found if found["kinds"] == ["Brand"] else None

    found = eventually(recovered, "the schema once candidates build again")
    assert found["lastFailure"] is None


def test_a_change_hint_checks_at_once(stack: Stack, owner: Person, repo: str) -> None:
    """What post-receive does after a push to the default branch: no waiting for the TTL."""
    token = owner.token
    services = stack.api.services
    schemas = services.store_schemas
    assert data(store_query(stack, repo, STATUS, token))["schemaStatus"]["fingerprint"] == BUILTIN
    schemas.ttl = 3600.0  # no request-driven check in this test
    try:
        ok(apply(stack, owner, repo, brand_kind(required=("title", "country"))))

        async def hint() -> None:
            namespace, name = repo.split("/")
            record = await services.store.get_repository_by_name(namespace, name)
            assert record is not None
            schemas.changed(record)

        stack.api.run(hint())

        def served() -> bool:
            found = data(store_query(stack, repo, STATUS, token))["schemaStatus"]
            return bool(found["kinds"] == ["Brand"])

        eventually(served, "the hinted change")
    finally:
        schemas.ttl = 0.1
