"""The store endpoint ``/<namespace>/<repo>/graphql``: built-ins under ``catalog`` without a
``repository`` argument, custom kinds under their API group, schemas shared by the
fingerprint of their kinds, isolation between repositories, and kinds that cannot be typed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from gitstore.api.storeschema.groups import CustomKindsModule, group_field_name
from gitstore.api.storeschema.schemas import BUILTIN, fingerprint
from gitstore.domain.content import KindRegistry
from gitstore.domain.content.kinds import kind_definition_from_manifest
from gitstore.domain.content.manifest import Manifest
from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import Person, ok, product_spec, upsert_product
from tests.catalog_writes.test_custom_kinds import apply, brand, brand_kind, worker

__all__ = ["worker"]  # the module's worker fixture (projects what the tests commit)

DEADLINE = 60.0  # generous: only a bound on waiting, never a timing assertion


def store_query(
    stack: Stack, repo: str, query: str, token: str | None, client: httpx.Client | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return (client or stack.api.client).post(
        f"{stack.api.base_url}/{repo}/graphql", json={"query": query}, headers=headers
    )


def data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result = body["data"]
    assert isinstance(result, dict)
    return result


def eventually(probe: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            found = probe()
        except AssertionError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"not within {DEADLINE} s: {what}"
        time.sleep(0.05)


def test_builtins_under_catalog_without_repository_argument(
    stack: Stack, owner: Person, repo: str, worker: WorkerService
) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "shirt", spec=product_spec(handle="blue")))
    query = '{ catalog { repository product(handle: "blue") { title } } }'

    def read() -> Any:
        return data(store_query(stack, repo, query, owner.token))["catalog"]["product"]

    assert eventually(read, "the product in the store endpoint") == {"title": "Blue Shirt"}
    global_query = f'{{ catalog(repository: "{repo}") {{ product(handle: "blue") {{ title }} }} }}'
    response = stack.api.client.post(
        f"{stack.api.base_url}/graphql",
        json={"query": global_query},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert data(response)["catalog"]["product"] == {"title": "Blue Shirt"}
    # the store endpoint has no repository argument
    unknown = f'{{ catalog(repository: "{repo}") {{ version }} }}'
    refused = store_query(stack, repo, unknown, owner.token)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_private_repository_is_not_found_anonymously(stack: Stack, repo: str) -> None:
    response = store_query(stack, repo, "{ schemaStatus { fingerprint } }", None)
    assert response.status_code == 404, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    missing = store_query(stack, "nobody/nothing", "{ schemaStatus { fingerprint } }", None)
    assert missing.status_code == 404


def test_builtin_only_repositories_share_one_schema(stack: Stack, owner: Person, repo: str) -> None:
    from tests.catalog_writes.ops import make_repository

    other = make_repository(stack.api, owner)
    for name in (repo, other):
        status = data(
            store_query(stack, name, "{ schemaStatus { fingerprint kinds } }", owner.token)
        )
        assert status["schemaStatus"] == {"fingerprint": BUILTIN, "kinds": []}
    # the global endpoint reports the same, by repository
    fields = "fingerprint lastFailure { errors }"
    global_status = stack.api.client.post(
        f"{stack.api.base_url}/graphql",
        json={"query": f'{{ schemaStatus(repository: "{other}") {{ {fields} }} }}'},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert data(global_status)["schemaStatus"] == {"fingerprint": BUILTIN, "lastFailure": None}
    schemas = stack.api.services.store_schemas
    record_a = schemas._repos[repo]
    record_b = schemas._repos[other]
    assert record_a.built.snapshot is record_b.built.snapshot


def test_custom_kinds_are_typed_under_their_group_and_stay_in_their_repository(
    stack: Stack, owner: Person, repo: str, worker: WorkerService
) -> None:
    from tests.catalog_writes.ops import make_repository

    other = make_repository(stack.api, owner)
    ok(apply(stack, owner, repo, brand_kind(), brand("acme", title="Acme", country="NL")))
    query = '{ acmeExample { brand(name: "acme") { title country spec } brands { totalCount } } }'

    def read() -> Any:
        found = data(store_query(stack, repo, query, owner.token))["acmeExample"]
        # the schema comes first; and the two fields of one request are read concurrently,
        # not from one snapshot, so a projection landing between them shows one of the two
        return found if found["brand"] is not None and found["brands"]["totalCount"] else None

    found = eventually(read, "the Brand kind and its resource")
    assert found["brand"]["title"] == "Acme"
    assert found["brand"]["country"] == "NL"
    assert found["brands"] == {"totalCount": 1}
    refused = store_query(stack, other, "{ acmeExample { brands { totalCount } } }", owner.token)
    assert refused.status_code == 400, refused.text
    assert "acmeExample" in refused.json()["errors"][0]["message"]
    status = data(store_query(stack, repo, "{ schemaStatus { kinds commit } }", owner.token))
    assert status["schemaStatus"]["kinds"] == ["Brand"]
    assert status["schemaStatus"]["commit"] == stack.git_head(repo)


def _definition(kind: str, plural: str, schema: dict[str, Any]) -> Any:
    manifest = brand_kind()
    manifest["metadata"]["name"] = plural
    manifest["spec"]["names"] = {"kind": kind, "plural": plural, "singular": plural[:-1]}
    manifest["spec"]["versions"][0]["schema"] = schema
    return kind_definition_from_manifest(Manifest.from_object(manifest))


def test_a_kind_that_cannot_be_typed_is_served_as_json_with_the_reason() -> None:
    from graphql import GraphQLObjectType

    from gitstore.api.graphql.builder import build_schema
    from gitstore.api.graphql.catalog_reads import CatalogReadsModule

    clash = _definition("PageInfo", "pageinfos", {"type": "object"})
    fine = _definition(
        "Brand", "brands", {"type": "object", "properties": {"t": {"type": "string"}}}
    )
    registry = KindRegistry.builtin()
    registry.register(clash)
    registry.register(fine)
    assert fingerprint(registry) != BUILTIN
    module = CustomKindsModule(registry)
    schema = build_schema([CatalogReadsModule(registry, repository_argument=False), module])
    group = schema.type_map["AcmeExampleKinds"]
    assert isinstance(group, GraphQLObjectType)
    assert {"brands", "brand", "pageinfos", "pageinfo"} <= set(group.fields)
    fallback = schema.type_map["PageInfoResource"]
    assert isinstance(fallback, GraphQLObjectType)
    assert "spec" in fallback.fields and "taken by the platform" in (fallback.description or "")
    assert set(module.fallbacks) == {"PageInfo"}
    assert group_field_name("acme.example") == "acmeExample"
