"""Mutations on a store endpoint (``/<namespace>/<repo>/graphql``): typed ``upsert<Kind>`` /
``delete<Kind>`` for built-in and custom kinds, ``applyManifests`` and the platform fields
without a ``repository`` argument, and the schema refreshed as soon as an API write changes
``kinds/`` (the TTL is an hour here: nothing but the write's own trigger can refresh it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import Person, product_spec
from tests.support.kinds import brand_kind

PAYLOAD = """repository branch commit committed dryRun replayed
  changes { path changeType kind name } userErrors { field message code }"""
APPLY = f"""mutation($input: ApplyManifestsInput!) {{
  applyManifests(input: $input) {{ {PAYLOAD} }} }}"""
UPSERT_BRAND = f"""mutation($input: UpsertBrandInput!) {{
  upsertBrand(input: $input) {{ {PAYLOAD} brand {{ id name title country version }} }} }}"""
DELETE_BRAND = f"""mutation($input: DeleteBrandInput!) {{
  deleteBrand(input: $input) {{ {PAYLOAD} deletedId }} }}"""
DELETE_KIND = f"""mutation($input: DeleteKindDefinitionInput!) {{
  deleteKindDefinition(input: $input) {{ {PAYLOAD} }} }}"""
UPSERT_PRODUCT = f"""mutation($input: UpsertProductInput!) {{
  upsertProduct(input: $input) {{ {PAYLOAD}
    product {{ name title status price {{ amount currency }} }} }} }}"""


@pytest.fixture(autouse=True)
def no_ttl(stack: Stack) -> Iterator[None]:
    schemas = stack.api.services.store_schemas
    schemas.ttl = 3600.0
    try:
        yield
    finally:
        schemas.ttl = 0.1


def post(stack: Stack, repo: str, query: str, variables: dict[str, Any], token: str) -> Any:
    return stack.api.client.post(
        f"{stack.api.base_url}/{repo}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )


def run(stack: Stack, repo: str, query: str, variables: dict[str, Any], token: str) -> Any:
    response = post(stack, repo, query, variables, token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    return payload


def committed(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["committed"] is True, payload
    return payload


def brand_kind_with_limit() -> dict[str, Any]:
    kind = brand_kind(required=("title",))
    kind["spec"]["versions"][0]["schema"]["properties"]["title"]["maxLength"] = 10
    return kind


def served(stack: Stack, repo: str, token: str) -> dict[str, Any]:
    response = post(stack, repo, "{ schemaStatus { kinds fingerprint } }", {}, token)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["data"]["schemaStatus"]
    return result


def test_a_kind_applied_on_the_endpoint_gets_typed_mutations_at_once(
    stack: Stack, owner: Person, repo: str
) -> None:
    token = owner.token
    assert served(stack, repo, token)["kinds"] == []  # served: the write will refresh it
    items = [{"manifest": brand_kind_with_limit()}]
    defined = committed(run(stack, repo, APPLY, {"input": {"manifests": items}}, token))
    # no waiting: the write refreshed the schema before it answered
    assert served(stack, repo, token)["kinds"] == ["Brand"]

    created = committed(
        run(
            stack,
            repo,
            UPSERT_BRAND,
            {"input": {"name": "acme", "title": "Acme", "country": "NL", "labels": {"t": "1"}}},
            token,
        )
    )
    brand = created["brand"]
    assert (brand["name"], brand["title"], brand["country"]) == ("acme", "Acme", "NL")
    assert brand["version"] == created["commit"]
    (path,) = [c["path"] for c in created["changes"]]
    assert path.startswith("brands/") and path.endswith("/acme.yaml")
    stored = yaml.safe_load(stack.git_show(repo, path))
    assert stored["apiVersion"] == "acme.example/v1"
    assert stored["spec"] == {"title": "Acme", "country": "NL"}
    assert stored["metadata"]["labels"] == {"t": "1"}

    # the schema's rules are the write path's: refused on the flat input field
    refused = run(
        stack, repo, UPSERT_BRAND, {"input": {"name": "acme", "title": "Far too long"}}, token
    )
    assert refused["committed"] is None
    (error,) = refused["userErrors"]
    assert error["field"] == "title" and "at most 10" in error["message"], error

    # a required field left out is a GraphQL validation error (the input type says so)
    missing = post(stack, repo, UPSERT_BRAND, {"input": {"name": "acme"}}, token)
    assert missing.status_code in (200, 400) and "title" in missing.text
    assert "errors" in missing.json()

    # expectedVersion, idempotency and dryRun are the global mutations'
    stale = run(
        stack,
        repo,
        UPSERT_BRAND,
        {"input": {"name": "acme", "title": "B", "expectedVersion": defined["commit"]}},
        token,
    )
    assert stale["userErrors"][0]["code"] == "CONFLICT", stale
    preview = run(
        stack, repo, UPSERT_BRAND, {"input": {"name": "acme", "title": "B", "dryRun": True}}, token
    )
    assert preview["dryRun"] is True and preview["brand"] is None and preview["commit"] is None
    variables = {"input": {"name": "acme", "title": "C", "idempotencyKey": "k-1"}}
    first = committed(run(stack, repo, UPSERT_BRAND, variables, token))
    again = run(stack, repo, UPSERT_BRAND, variables, token)
    assert again["replayed"] is True and again["commit"] == first["commit"]

    gone = committed(run(stack, repo, DELETE_BRAND, {"input": {"name": "acme"}}, token))
    assert gone["deletedId"] and gone["changes"][0]["changeType"] == "DELETED"
    assert path not in stack.files(repo)


def test_built_in_kinds_take_typed_nested_input(stack: Stack, owner: Person, repo: str) -> None:
    token = owner.token
    spec = product_spec(price={"amount": "19.99", "currency": "EUR"})
    spec["status"] = "ACTIVE"  # the enum's GraphQL name; stored as its value
    payload = committed(
        run(stack, repo, UPSERT_PRODUCT, {"input": {"name": "blue-shirt", **spec}}, token)
    )
    assert payload["product"]["price"] == {"amount": "19.99", "currency": "EUR"}
    assert payload["product"]["status"] == "ACTIVE"
    (path,) = [c["path"] for c in payload["changes"]]
    stored = yaml.safe_load(stack.git_show(repo, path))
    assert stored["spec"]["status"] == "active"
    assert stored["spec"]["price"] == {"amount": "19.99", "currency": "EUR"}
    # a nested problem names the nested input field
    bad = dict(spec, price={"amount": "a lot", "currency": "EUR"})
    refused = run(stack, repo, UPSERT_PRODUCT, {"input": {"name": "blue-shirt", **bad}}, token)
    assert refused["userErrors"][0]["field"] == "price.amount", refused


def test_the_repository_is_the_endpoints(stack: Stack, owner: Person, repo: str) -> None:
    token = owner.token
    other = Person(owner.username, owner.token)
    # inputs have no repository field: naming one is a GraphQL validation error
    items = [{"manifest": brand_kind()}]
    response = post(
        stack, repo, APPLY, {"input": {"manifests": items, "repository": "x/y"}}, other.token
    )
    assert "repository" in response.text and "errors" in response.json()
    # platform reads of the repository, without the argument
    query = """{ releases(first: 5) { totalCount }
                 resourceHistory(kind: "Product", name: "none") { commit }
                 auditLog(first: 5) { totalCount } }"""
    reply = post(stack, repo, query, {}, token)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert "errors" not in body, body
    assert body["data"]["releases"]["totalCount"] == 0


def test_a_stranger_cannot_write_a_public_store(stack: Stack, owner: Person) -> None:
    from tests.catalog_writes.ops import make_repository, person

    repo = make_repository(stack.api, owner, visibility="PUBLIC")
    stranger = person(stack.api)
    items = [{"manifest": brand_kind()}]
    refused = run(stack, repo, APPLY, {"input": {"manifests": items}}, stranger.token)
    assert refused["committed"] is None
    assert refused["userErrors"][0]["code"] in ("PERMISSION_DENIED", "NOT_FOUND"), refused
    assert stack.git_head(repo) is None
    with httpx.Client() as client:  # anonymous: mutations need a caller
        response = client.post(
            f"{stack.api.base_url}/{repo}/graphql",
            json={"query": APPLY, "variables": {"input": {"manifests": items}}},
        )
    assert response.status_code in (200, 401), response.text
    assert "errors" in response.json()


def test_documents_are_prepared_for_the_new_schema_before_the_swap(
    stack: Stack, owner: Person, repo: str
) -> None:
    """The queries clients sent to the old schema are parsed, validated and planned for the
    new one before it is served (one it refuses is skipped)."""
    token = owner.token
    schemas = stack.api.services.store_schemas
    namespace, name = repo.split("/")
    record = stack.api.run(stack.api.services.store.get_repository_by_name(namespace, name))
    assert record is not None
    storefront = "{ catalog { products(first: 3) { totalCount } } }"
    items = [{"manifest": brand_kind()}]
    committed(run(stack, repo, APPLY, {"input": {"manifests": items}}, token))
    brands = "{ acmeExample { brands(first: 3) { totalCount } } }"
    for query in (storefront, brands):
        assert post(stack, repo, query, {}, token).status_code == 200
    old_snapshot = stack.api.run(schemas.snapshot(record))
    old = old_snapshot.version
    assert {storefront, brands} <= set(schemas.documents.recent_queries(old, 10))
    parsed = schemas.documents.prepare(old_snapshot, storefront).document

    deleted = run(stack, repo, DELETE_KIND, {"input": {"name": "brands"}}, token)
    committed(deleted)
    new_snapshot = stack.api.run(schemas.snapshot(record))
    new = new_snapshot.version
    assert new != old
    ready = schemas.documents.recent_queries(new, 10)
    assert storefront in ready  # prepared before the swap, not by a request since
    assert brands not in ready  # the new schema has no acmeExample: skipped
    # validated against the new schema, but not parsed again: the old parse is carried over
    assert schemas.documents.prepare(new_snapshot, storefront).document is parsed


def test_a_request_in_flight_finishes_on_its_schema(stack: Stack, owner: Person, repo: str) -> None:
    """An ``upsertBrand`` selecting ``brand { country }`` waits for the index (no worker runs
    here: it waits until the test moves the draft head); meanwhile a write removes ``country``
    from ``Brand`` and the new schema is served. The request still answers, on the schema
    it started with."""
    token = owner.token
    with_country = brand_kind(required=("title",))
    committed(
        run(stack, repo, APPLY, {"input": {"manifests": [{"manifest": with_country}]}}, token)
    )
    query = """mutation($input: UpsertBrandInput!) { upsertBrand(input: $input) {
      commit userErrors { message } brand { title country } } }"""
    variables = {
        "input": {
            "name": "acme",
            "title": "Acme",
            "country": "NL",
            "waitForIndex": True,
            "indexTimeout": 60,
        }
    }
    head = stack.git_head(repo)
    answers: list[httpx.Response] = []
    with httpx.Client(timeout=120) as client:

        def send() -> None:
            answers.append(
                client.post(
                    f"{stack.api.base_url}/{repo}/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                )
            )

        request = threading.Thread(target=send)
        request.start()
        release = head or ""  # what the draft head is moved to, letting the request answer
        try:
            deadline = time.monotonic() + 60  # a bound on waiting only
            while stack.git_head(repo) == head:  # committed: it now waits for the index
                assert time.monotonic() < deadline, "the in-flight write never committed"
                time.sleep(0.02)
            without_country = brand_kind(required=("title",))
            del without_country["spec"]["versions"][0]["schema"]["properties"]["country"]
            items = [{"manifest": without_country}]
            release = committed(run(stack, repo, APPLY, {"input": {"manifests": items}}, token))[
                "commit"
            ]
            fields = run(stack, repo, '{ t: __type(name: "Brand") { fields { name } } }', {}, token)
            assert "country" not in {f["name"] for f in fields["fields"]}  # swapped
            assert request.is_alive()  # still waiting: only the test moves the index
        finally:
            stack.advance_index(repo, release)
            request.join(timeout=120)
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body
    payload = body["data"]["upsertBrand"]
    assert payload["userErrors"] == []
    assert payload["brand"] == {"title": "Acme", "country": "NL"}


def test_a_kind_written_on_the_global_endpoint_is_served_at_once(
    stack: Stack, owner: Person, repo: str
) -> None:
    """The same trigger for writes through ``/graphql`` (``repository:`` given), reverts
    included; a write to another branch does not refresh (the default branch is served)."""
    from tests.catalog_writes.ops import REVERT, mutate
    from tests.catalog_writes.test_custom_kinds import apply

    token = owner.token
    assert served(stack, repo, token)["kinds"] == []
    elsewhere = apply(stack, owner, repo, brand_kind(), branch="drafts")
    assert elsewhere["userErrors"] == [] and elsewhere["branch"] == "drafts"
    assert served(stack, repo, token)["kinds"] == []
    added = committed(apply(stack, owner, repo, brand_kind()))
    assert served(stack, repo, token)["kinds"] == ["Brand"]
    undo = mutate(stack.api, REVERT, {"repository": repo, "sha": added["commit"]}, token)
    committed(undo)
    assert served(stack, repo, token)["kinds"] == []
