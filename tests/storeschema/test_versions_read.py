"""Reads in older served versions on a store endpoint, end to end: a real server over HTTP,
the real worker projecting hub documents, and the real ``price.wasm`` hook built from
``examples/hooks`` and committed to the repository. A kind ``Offer`` serves v1 (``price``) and
v2, the hub (``pricingMatrix``); resources written in either version are read as
``pricingMatrix``, as the deprecated ``price`` (down-converted, one hook run per response,
then cached) and whole in v1; a hook that fails on a read errors that field alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from graphql import GraphQLObjectType, GraphQLSchema, validate_schema

from gitstore.api.catalog.types.generate import types_for_kind
from gitstore.api.graphql.builder import SchemaBuilder, build_schema
from gitstore.api.graphql.catalog_reads import CatalogReadsModule
from gitstore.api.storeschema.groups import CustomKindsModule
from gitstore.api.storeschema.versions import add_version_fields
from gitstore.domain.content.kindset import builtin_registry
from gitstore.domain.content.manifest import Manifest
from gitstore.git.client import GitClient
from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import Person, ok
from tests.catalog_writes.test_hub_conversion import (
    apply,
    commit_hooks,
    git,
    hooks,
    offer,
    offer_kind,
    worker,
)

from .test_store_endpoint import data, eventually, store_query

__all__ = ["git", "hooks", "worker"]  # fixtures of test_hub_conversion

PRICE = {"amount": "5.00", "currency": "EUR"}
MATRIX = [
    {"minQuantity": 10, "price": {"amount": "3.50", "currency": "EUR"}},
    {"minQuantity": 1, "price": {"amount": "4.00", "currency": "EUR"}},
]
MONEY = {
    "type": "object",
    "required": ["amount", "currency"],
    "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}},
}
READ = """{ shopExample { offers(first: 10) { nodes {
  name title
  pricingMatrix { minQuantity price { amount currency } }
  price { amount currency }
  legacyCode
  asVersion(version: "v1")
  asV1 { apiVersion: version name price { amount } }
} } } }"""


def read_kind(module: str, wasm: bytes) -> dict[str, Any]:
    """``offer_kind`` with a typed v1 ``price`` whose deprecation is declared, and a v1-only
    ``legacyCode`` without one (the default reason)."""
    kind = offer_kind(module, wasm)
    v1 = kind["spec"]["versions"][0]
    v1["schema"]["properties"]["price"] = MONEY
    v1["schema"]["properties"]["legacyCode"] = {"type": "string"}
    v1["deprecatedFields"] = [{"path": "spec.price", "reason": "Use pricingMatrix"}]
    v2 = kind["spec"]["versions"][1]
    v2["schema"]["properties"]["pricingMatrix"]["items"]["properties"]["price"] = MONEY
    return kind


def post(stack: Stack, repo: str, query: str, token: str) -> httpx.Response:
    return store_query(stack, repo, query, token)


def offers(stack: Stack, repo: str, owner: Person, query: str = READ) -> list[dict[str, Any]]:
    nodes = data(post(stack, repo, query, owner.token))["shopExample"]["offers"]["nodes"]
    assert isinstance(nodes, list)
    return nodes


def test_deprecated_fields_and_whole_resources_in_v1(
    stack: Stack, owner: Person, repo: str, git: GitClient, worker: WorkerService, hooks: Path
) -> None:
    commit_hooks(stack, git, repo, hooks, "price")
    ok(
        apply(
            stack, owner, repo, read_kind("hooks/price.wasm", (hooks / "price.wasm").read_bytes())
        )
    )
    written = ok(
        apply(
            stack,
            owner,
            repo,
            offer("hub", "v2", pricingMatrix=MATRIX),
            offer("spoke", "v1", price=PRICE, legacyCode="L-1"),
            waitForIndex=True,
            indexTimeout=30.0,
        )
    )
    assert written["indexing"]["state"] == "INDEXED"
    conversions = stack.api.services.down_conversions()

    def both() -> list[dict[str, Any]]:
        nodes = offers(
            stack, repo, owner, "{ shopExample { offers(first: 10) { nodes { name } } } }"
        )
        return nodes if len(nodes) == 2 else []

    eventually(both, "both offers on the store endpoint")
    runs = conversions.runs
    hub, spoke = offers(stack, repo, owner)
    # one hook run converted both resources of the page to v1
    assert conversions.runs == runs + 1
    assert hub["name"] == "hub" and spoke["name"] == "spoke"
    assert hub["pricingMatrix"] == MATRIX
    assert spoke["pricingMatrix"] == [{"minQuantity": 1, "price": PRICE}]
    # the deprecated v1 field, down-converted by the hook: v1 shows the one-item row
    assert hub["price"] == {"amount": "4.00", "currency": "EUR"}
    assert spoke["price"] == PRICE
    assert spoke["legacyCode"] == "L-1" and hub["legacyCode"] is None
    assert spoke["asVersion"] == {
        "apiVersion": "shop.example/v1",
        "kind": "Offer",
        "metadata": {"name": "spoke", "labels": {}, "annotations": {}},
        "spec": {"title": "Spoke", "price": PRICE, "legacyCode": "L-1"},
    }
    assert hub["asVersion"]["spec"] == {"title": "Hub", "price": MATRIX[1]["price"]}
    assert hub["asV1"] == {
        "apiVersion": written["commit"],
        "name": "hub",
        "price": {"amount": "4.00"},
    }
    # read again: answered from the cache, no hook run
    assert offers(stack, repo, owner) == [hub, spoke]
    assert conversions.runs == runs + 1
    # the hub version and one resource by name
    one = data(
        post(
            stack,
            repo,
            '{ shopExample { offer(name: "spoke") { v2: asVersion(version: "shop.example/v2") '
            "price { currency } } } }",
            owner.token,
        )
    )["shopExample"]["offer"]
    assert one["v2"]["apiVersion"] == "shop.example/v2"
    assert one["v2"]["spec"]["pricingMatrix"] == [{"minQuantity": 1, "price": PRICE}]
    assert one["price"] == {"currency": "EUR"}
    # a version that is not served is a clear error
    bad = post(stack, repo, '{ shopExample { offer(name: "hub") { asVersion(version: "v7") } } }',
               owner.token).json()  # fmt: skip
    assert "kind Offer has no served version 'v7' (served: v1, v2)" in bad["errors"][0]["message"]


def test_introspection_shows_the_deprecation(
    stack: Stack, owner: Person, repo: str, git: GitClient, hooks: Path
) -> None:
    commit_hooks(stack, git, repo, hooks, "price")
    ok(
        apply(
            stack, owner, repo, read_kind("hooks/price.wasm", (hooks / "price.wasm").read_bytes())
        )
    )
    query = """{ __type(name: "Offer") { fields(includeDeprecated: true) {
      name isDeprecated deprecationReason type { name kind ofType { name } } } } }"""

    def fields() -> dict[str, Any]:
        found = data(post(stack, repo, query, owner.token))["__type"]
        return {f["name"]: f for f in found["fields"]} if found else {}

    by_name = eventually(fields, "the Offer type on the store endpoint")
    price = by_name["price"]
    assert price["isDeprecated"] is True
    assert price["deprecationReason"] == "Use pricingMatrix"
    assert price["type"] == {"name": "Offer_v1Price", "kind": "OBJECT", "ofType": None}
    legacy = by_name["legacyCode"]
    assert legacy["isDeprecated"] is True
    assert legacy["deprecationReason"] == (
        "Served in shop.example/v1 only; the hub shop.example/v2 has no legacyCode "
        "(read by converting the hub document to v1)."
    )
    assert by_name["pricingMatrix"]["isDeprecated"] is False
    assert by_name["asVersion"]["isDeprecated"] is False
    # without includeDeprecated the deprecated fields are hidden, as GraphQL says
    hidden = data(post(stack, repo, '{ __type(name: "Offer") { fields { name } } }', owner.token))
    names = {f["name"] for f in hidden["__type"]["fields"]}
    assert "pricingMatrix" in names and "price" not in names and "legacyCode" not in names


def test_a_hook_failing_on_a_read_errors_that_field_only(
    stack: Stack, owner: Person, repo: str, git: GitClient, worker: WorkerService, hooks: Path
) -> None:
    # writes in the hub need no hook, so the bad hook runs first on the read
    commit_hooks(stack, git, repo, hooks, "garbage")
    garbage = (hooks / "garbage.wasm").read_bytes()
    ok(apply(stack, owner, repo, read_kind("hooks/garbage.wasm", garbage)))
    ok(
        apply(
            stack,
            owner,
            repo,
            offer("a", "v2", pricingMatrix=MATRIX),
            waitForIndex=True,
            indexTimeout=30.0,
        )
    )
    query = (
        '{ shopExample { offer(name: "a") { name pricingMatrix { minQuantity } '
        "price { amount } } } }"
    )

    def answered() -> Any:
        response = post(stack, repo, query, owner.token)
        assert response.status_code == 200, response.text
        body = response.json()
        return body if body.get("data", {}).get("shopExample", {}).get("offer") else None

    body = eventually(answered, "offer a on the store endpoint")
    offer_read = body["data"]["shopExample"]["offer"]
    assert offer_read["name"] == "a"
    assert offer_read["pricingMatrix"] == [{"minQuantity": 10}, {"minQuantity": 1}]
    assert offer_read["price"] is None
    [error] = body["errors"]
    assert error["path"] == ["shopExample", "offer", "price"]
    message = error["message"]
    assert message.startswith("Offer a: field price could not be read in shop.example/v1: ")
    assert "conversion hook hooks/garbage.wasm of kind Offer (from-hub v2 -> v1)" in message
    assert "its stderr: garbage: misbehaving as asked" in message
    assert error["extensions"]["code"] == "FAILED_PRECONDITION"
    # the failure is cached (the hook does not run again) and the server stays healthy
    runs = stack.api.services.down_conversions().runs
    again = post(stack, repo, query, owner.token).json()
    assert again["errors"][0]["message"] == message
    assert stack.api.services.down_conversions().runs == runs
    assert stack.api.client.get(f"{stack.api.base_url}/healthz").status_code == 200
    assert offers(stack, repo, owner, "{ shopExample { offers(first: 5) { nodes { name } } } }")


def schema_of(kind: dict[str, Any]) -> GraphQLSchema:
    registry, errors = builtin_registry().with_definitions([Manifest.from_object(kind)])
    assert errors == []
    modules = [CatalogReadsModule(registry, repository_argument=False), CustomKindsModule(registry)]
    schema = build_schema(modules)
    assert validate_schema(schema) == []
    return schema


def test_spoke_field_types_and_kinds_without_them() -> None:
    kind = read_kind("hooks/price.wasm", b"wasm")
    offer = schema_of(kind).get_type("Offer")
    assert isinstance(offer, GraphQLObjectType)
    assert str(offer.fields["price"].type) == "Offer_v1Price"  # nullable though required in v1
    assert str(offer.fields["asV1"].type) == "Offer_v1"
    assert offer.fields["asVersion"].deprecation_reason is None
    # a version that cannot be typed on its own: its spoke fields are JSON
    registry, _ = builtin_registry().with_definitions([Manifest.from_object(kind)])
    builder = SchemaBuilder()
    hub = types_for_kind(registry.get("Offer"), builder)
    add_version_fields(builder, registry.get("Offer"), hub, lambda _definition: "cannot")
    assert str(hub.fields["price"].type) == "JSON" and "asV1" not in hub.fields
    assert hub.fields["price"].deprecation_reason == "Use pricingMatrix"
    # versions that share one shape (strategy None) have no spoke fields, only asVersion
    same = read_kind("hooks/price.wasm", b"wasm")
    same["spec"]["conversion"] = {"strategy": "None"}
    same["spec"]["versions"][1]["schema"]["properties"]["price"] = MONEY
    fields = schema_of(same).get_type("Offer").fields  # type: ignore[union-attr]
    assert "asV1" not in fields and "legacyCode" not in fields and "asVersion" in fields
    assert fields["price"].deprecation_reason is None  # the hub's own field
