"""``_service`` and ``_entities`` of a store endpoint in subgraph mode, over real HTTP, against
a real git service and worker: keys, order, nulls, errors at their index, access rules, and
published state only."""

from __future__ import annotations

from typing import Any

import httpx

from gitstore.api.catalog.ids import encode_resource_id
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import Person, make_repository, mutate, ok
from tests.federation.conftest import Catalogue, fill

ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) {
    __typename
    ... on Product { id name title collections }
    ... on Category { name title }
    ... on Collection { name title }
    ... on Brand { id name title }
  }
}"""


def post(
    stack: Stack,
    repo: str,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
    status: int = 200,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response: httpx.Response = stack.api.client.post(
        f"{stack.api.base_url}/{repo}/graphql",
        json={"query": query, "variables": variables},
        headers=headers,
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def test_service_sdl_keys_every_catalogue_kind(stack: Stack, catalogue: Catalogue) -> None:
    body = post(stack, catalogue.repo, "{ _service { sdl } }", {})
    sdl = body["data"]["_service"]["sdl"]
    assert 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3"' in sdl
    for kind in ("Product", "Category", "Collection", "Brand"):
        assert f'type {kind} @key(fields: "id") @key(fields: "name") {{' in sdl, kind
    assert "_entities" not in sdl and "_Any" not in sdl


def test_entities_in_order_with_null_for_unknown(stack: Stack, catalogue: Catalogue) -> None:
    ids = catalogue.ids
    representations = [
        {"__typename": "Product", "id": ids["Product/red-shirt"]},
        {"__typename": "Brand", "id": ids["Brand/acme"]},
        {"__typename": "Product", "id": encode_resource_id("Product", catalogue.repo, "nope")},
        {"__typename": "Category", "name": "shirts"},
        {"__typename": "Product", "name": "blue-shirt"},
        {"__typename": "Collection", "id": ids["Collection/summer"]},
    ]
    body = post(stack, catalogue.repo, ENTITIES, {"r": representations})
    assert "errors" not in body, body
    assert body["data"]["_entities"] == [
        {
            "__typename": "Product",
            "id": ids["Product/red-shirt"],
            "name": "red-shirt",
            "title": "Red Shirt",
            "collections": ["summer"],
        },
        {"__typename": "Brand", "id": ids["Brand/acme"], "name": "acme", "title": "Acme"},
        None,
        {"__typename": "Category", "name": "shirts", "title": "Shirts"},
        {
            "__typename": "Product",
            "id": ids["Product/blue-shirt"],
            "name": "blue-shirt",
            "title": "Blue Shirt",
            "collections": [],
        },
        {"__typename": "Collection", "name": "summer", "title": "Summer"},
    ]


def test_malformed_representations_are_errors_at_their_index(
    stack: Stack, catalogue: Catalogue
) -> None:
    ids = catalogue.ids
    other = encode_resource_id("Product", "someone/else", "red-shirt")
    representations: list[Any] = [
        {"__typename": "Product", "name": "red-shirt"},
        {"__typename": "Order", "id": "x"},
        {"id": ids["Product/red-shirt"]},
        {"__typename": "Product"},
        {"__typename": "Product", "id": ids["Category/shirts"]},
        {"__typename": "Product", "id": other},
        {"__typename": "Product", "id": "not-an-id"},
        "red-shirt",
    ]
    body = post(stack, catalogue.repo, ENTITIES, {"r": representations})
    entities = body["data"]["_entities"]
    assert entities[0]["name"] == "red-shirt"
    assert entities[1:] == [None] * 7
    errors = {tuple(e["path"]): e for e in body["errors"]}
    assert set(errors) == {("_entities", i) for i in range(1, 8)}
    message = {i: errors["_entities", i]["message"] for i in range(1, 8)}
    assert "'Order' is not an entity of this subgraph" in message[1]
    assert "needs __typename" in message[2]
    assert "needs exactly one key of Product, id or name (got 0)" in message[3]
    assert "is a Category ID, not a Product ID" in message[4]
    assert "of repository 'someone/else'" in message[5]
    assert "is not a catalogue ID" in message[6]
    assert "must be an object, not str" in message[7]
    for i in range(1, 8):
        assert errors["_entities", i]["extensions"]["code"] == "INVALID_ARGUMENT", errors


def test_private_repository_needs_read_access(
    stack: Stack, owner: Person, catalogue: Catalogue
) -> None:
    private = make_repository(stack.api, owner)  # PRIVATE
    fill(stack, owner, private)
    representations = [{"__typename": "Product", "name": "red-shirt"}]
    anonymous = post(stack, private, ENTITIES, {"r": representations}, status=404)
    assert "data" not in anonymous, anonymous
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_FOUND", anonymous
    allowed = post(stack, private, ENTITIES, {"r": representations}, owner.token)
    assert allowed["data"]["_entities"][0]["title"] == "Red Shirt", allowed


CREATE_RELEASE_REPO = """
mutation($input: CreateRepositoryInput!) {
  createRepository(input: $input) { repository { fullName } userErrors { field message code } }
}"""


def test_only_published_state(stack: Stack, owner: Person, catalogue: Catalogue) -> None:
    namespace = catalogue.repo.split("/")[0]
    created = ok(
        mutate(
            stack.api,
            CREATE_RELEASE_REPO,
            {
                "namespace": namespace,
                "name": "releases-only",
                "visibility": "PUBLIC",
                "publishMode": "ON_RELEASE_TAG",
            },
            owner.token,
        )
    )
    repo = created["repository"]["fullName"]
    fill(stack, owner, repo)  # projected into draft; no release published yet
    draft = post(
        stack,
        repo,
        '{ catalog(channel: DRAFT) { product(name: "red-shirt") { title } } }',
        {},
        owner.token,
    )
    assert draft["data"]["catalog"]["product"] == {"title": "Red Shirt"}, draft
    body = post(
        stack, repo, ENTITIES, {"r": [{"__typename": "Product", "name": "red-shirt"}]}, owner.token
    )
    assert body == {"data": {"_entities": [None]}}, body


def test_representations_as_literals(stack: Stack, catalogue: Catalogue) -> None:
    query = """{ _entities(representations: [
        {__typename: "Brand", name: "acme"}, {__typename: "Category", name: "none"}
    ]) { ... on Brand { title } } }"""
    body = post(stack, catalogue.repo, query, {})
    assert body == {"data": {"_entities": [{"title": "Acme"}, None]}}, body
