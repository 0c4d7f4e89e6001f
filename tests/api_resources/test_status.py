"""Resources and the status subresource over the global /graphql: a real API (uvicorn) and git
service, the SQLite resource store in the data dir, the SQLite queue for the pokes. The
store is seeded the way the worker feeds it (``apply_commit``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gitstore.backends.queue.factory import open_queue
from gitstore.domain.events import ResourceChangedEvent
from gitstore.domain.resources.model import SpecDelete, SpecUpsert
from tests.api_releases.ops import add_member, make_repository
from tests.catalog_writes.harness import Stack, start_stack
from tests.catalog_writes.ops import CREATE_TOKEN
from tests.support.graphql_ops import Person, error_of, execute, mutate, ok, person

OBJECT = "kind name resourceVersion generation labels spec status object"
RESOURCES = f"""
query($repository: String!, $kind: String, $selector: String) {{
  resources(repository: $repository, kind: $kind, labelSelector: $selector) {{
    resourceVersion items {{ {OBJECT} }}
  }}
}}"""
RESOURCE = f"""
query($repository: String!, $kind: String!, $name: String!) {{
  resource(repository: $repository, kind: $kind, name: $name) {{ {OBJECT} }}
}}"""
UPDATE_PRODUCT_STATUS = f"""
mutation($input: UpdateProductStatusInput!) {{
  updateProductStatus(input: $input) {{
    resource {{ {OBJECT} }} userErrors {{ field message code }}
  }}
}}"""
UPDATE_RESOURCE_STATUS = f"""
mutation($input: UpdateResourceStatusInput!) {{
  updateResourceStatus(input: $input) {{
    resource {{ {OBJECT} }} userErrors {{ field message code }}
  }}
}}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("resources")) as running:
        yield running


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


def seed(stack: Stack, repository: str, *products: tuple[str, dict[str, str]]) -> int:
    upserts = [
        SpecUpsert("Product", name, "gitstore.dev/v1", {"title": name.title()}, labels)
        for name, labels in products
    ]
    store = stack.api.services.resources()
    outcome = stack.api.run(store.apply_commit(repository, f"seed-{len(upserts)}", upserts, []))
    return outcome.version


@pytest.fixture
def repo(stack: Stack, owner: Person) -> str:
    repository = make_repository(stack.api, owner, publish_mode="ON_COMMIT", organisation=True)
    seed(stack, repository, ("a", {"tier": "gold"}), ("b", {"tier": "silver"}))
    return repository


def write(stack: Stack, token: str, repository: str, version: str, status: Any) -> dict[str, Any]:
    return mutate(
        stack.api,
        UPDATE_PRODUCT_STATUS,
        {"repository": repository, "name": "a", "resourceVersion": version, "status": status},
        token,
    )


def test_list_get_and_selector(stack: Stack, owner: Person, repo: str) -> None:
    data = execute(stack.api, RESOURCES, {"repository": repo, "kind": "Product"}, owner.token)
    listing = data["resources"]
    assert listing["resourceVersion"] == "2"
    assert [i["name"] for i in listing["items"]] == ["a", "b"]
    first = listing["items"][0]
    assert first["object"]["metadata"]["resourceVersion"] == "1"
    assert first["object"]["spec"] == {"title": "A"} and first["status"] == {}
    picked = execute(
        stack.api, RESOURCES, {"repository": repo, "selector": "tier!=gold"}, owner.token
    )
    assert [i["name"] for i in picked["resources"]["items"]] == ["b"]
    one = execute(
        stack.api, RESOURCE, {"repository": repo, "kind": "product", "name": "b"}, owner.token
    )
    assert one["resource"]["labels"] == {"tier": "silver"}
    none = execute(
        stack.api, RESOURCE, {"repository": repo, "kind": "Product", "name": "zz"}, owner.token
    )
    assert none["resource"] is None
    response = stack.api.graphql(
        RESOURCES, {"repository": repo, "selector": "a=b,"}, token=owner.token
    )
    assert "label selector" in response.text


def test_status_cas_conditions_and_poke(stack: Stack, owner: Person, repo: str) -> None:
    async def drain(wait: float = 0.2) -> list[int]:
        q = await open_queue(stack.settings.queue_url(), stream="resources")
        try:
            got = await q.fetch("test-pokes", "t", max_messages=100, timeout=wait)
            for m in got:
                await q.ack("test-pokes", m.id)
            return [
                ResourceChangedEvent.from_json(m.body).resource_version
                for m in got
                if ResourceChangedEvent.from_json(m.body).repository_id == repo
            ]
        finally:
            await q.close()

    asyncio.run(drain())
    ready = {"type": "Ready", "status": "False", "reason": "MissingCategory", "message": "m"}
    status = {"observedGeneration": 1, "conditions": [ready]}
    payload = ok(write(stack, owner.token, repo, "1", status))
    resource = payload["resource"]
    assert resource["resourceVersion"] == "3" and resource["generation"] == 1
    condition = resource["status"]["conditions"][0]
    assert condition["status"] == "False" and condition["lastTransitionTime"].endswith("Z")
    assert asyncio.run(drain(wait=10.0)) == [3]  # published in the background, soon

    stale = error_of(write(stack, owner.token, repo, "1", {"observedGeneration": 9}))
    assert stale["code"] == "CONFLICT" and stale["field"] == "resourceVersion"
    assert "expected resourceVersion 1 but it is 3" in stale["message"]
    now = execute(
        stack.api, RESOURCE, {"repository": repo, "kind": "Product", "name": "a"}, owner.token
    )
    assert now["resource"]["status"] == resource["status"]
    assert asyncio.run(drain()) == []

    bad = error_of(
        mutate(
            stack.api,
            UPDATE_RESOURCE_STATUS,
            {
                "repository": repo,
                "kind": "Product",
                "name": "a",
                "resourceVersion": "3",
                "status": {"conditions": [{"type": "Ready", "status": "maybe"}]},
            },
            owner.token,
        )
    )
    assert bad["code"] == "INVALID_ARGUMENT" and "conditions[0].status" in bad["message"]
    for version in ("x", "-1"):
        wrong = error_of(write(stack, owner.token, repo, version, {}))
        assert wrong["field"] == "resourceVersion"
    missing = error_of(
        mutate(
            stack.api,
            UPDATE_RESOURCE_STATUS,
            {
                "repository": repo,
                "kind": "Brand",
                "name": "a",
                "resourceVersion": "3",
                "status": {},
            },
            owner.token,
        )
    )
    assert missing["code"] == "NOT_FOUND"


def test_who_may_write_status(stack: Stack, owner: Person, repo: str) -> None:
    stranger = person(stack.api)
    assert error_of(write(stack, stranger.token, repo, "1", {}))["code"] == "NOT_FOUND"
    writer = person(stack.api)
    add_member(stack.api, owner, repo, writer, "WRITER")
    denied = error_of(write(stack, writer.token, repo, "1", {"x": 1}))
    assert denied["code"] == "PERMISSION_DENIED" and "controller token" in denied["message"]
    created = ok(
        mutate(
            stack.api,
            CREATE_TOKEN,
            {"name": "controller", "scopes": ["READ", "STATUS"]},
            writer.token,
        )
    )
    controller = created["secret"]
    ok(write(stack, controller, repo, "1", {"x": 1}))
    reader_only = ok(
        mutate(stack.api, CREATE_TOKEN, {"name": "ro", "scopes": ["READ"]}, owner.token)
    )["secret"]
    refused = error_of(write(stack, reader_only, repo, "2", {}))
    assert refused["code"] == "PERMISSION_DENIED" and "status" in refused["message"]
    anonymous = stack.api.graphql(
        UPDATE_PRODUCT_STATUS,
        {"input": {"repository": repo, "name": "a", "resourceVersion": "2", "status": {}}},
    )
    assert anonymous.status_code == 401


UPDATE_METADATA = f"""
mutation($input: UpdateResourceMetadataInput!) {{
  updateResourceMetadata(input: $input) {{
    resource {{ {OBJECT} finalizers deletionTimestamp }} userErrors {{ field message code }}
  }}
}}"""


def test_finalizers_hold_a_deletion(stack: Stack, owner: Person, repo: str) -> None:
    def meta(version: str, **fields: Any) -> dict[str, Any]:
        data = {"repository": repo, "kind": "Product", "name": "b", "resourceVersion": version}
        return mutate(stack.api, UPDATE_METADATA, {**data, **fields}, owner.token)

    held = ok(meta("2", finalizers=["shop.example/cleanup"], annotations={"a": "1"}))
    assert held["resource"]["finalizers"] == ["shop.example/cleanup"]
    assert held["resource"]["labels"] == {"tier": "silver"}  # omitted: kept
    assert error_of(meta("2", finalizers=[]))["code"] == "CONFLICT"
    store = stack.api.services.resources()
    stack.api.run(store.apply_commit(repo, "gone", [], [SpecDelete("Product", "b")]))
    terminating = execute(
        stack.api, RESOURCE, {"repository": repo, "kind": "Product", "name": "b"}, owner.token
    )["resource"]
    assert terminating["object"]["metadata"]["deletionTimestamp"] is not None
    released = ok(meta(terminating["resourceVersion"], finalizers=[]))
    assert released["resource"]["finalizers"] == []
    gone = execute(
        stack.api, RESOURCE, {"repository": repo, "kind": "Product", "name": "b"}, owner.token
    )
    assert gone["resource"] is None
    bad = error_of(meta("1", labels={"x": 1}))
    assert (bad["code"], bad["field"]) == ("INVALID_ARGUMENT", "labels")
