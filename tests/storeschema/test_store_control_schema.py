"""The control plane in a store schema, built from a registry (no server): every kind gets
``update<Kind>Status`` and ``watch<Plural>`` without a ``repository`` argument, and a kind
whose names are taken gets none, with the reason in the build's ``untyped``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from graphql import GraphQLInputObjectType, GraphQLSchema

from gitstore.api.storeschema.schemas import StoreSchemas, fingerprint
from gitstore.config import load_settings
from gitstore.domain.content import KindRegistry
from gitstore.domain.content.kinds import kind_definition_from_manifest
from gitstore.domain.content.manifest import Manifest
from tests.support.kinds import brand_kind


def definition(kind: str, plural: str, status: dict[str, Any] | None = None) -> Any:
    manifest = brand_kind()
    manifest["metadata"]["name"] = plural
    manifest["spec"]["names"] = {"kind": kind, "plural": plural, "singular": plural[:-1]}
    if status is not None:
        manifest["spec"]["versions"][0]["statusSchema"] = status
    return kind_definition_from_manifest(Manifest.from_object(manifest))


def built(registry: KindRegistry) -> tuple[GraphQLSchema, tuple[str, ...]]:
    schemas = StoreSchemas(cast(Any, SimpleNamespace(settings=load_settings())))
    result = schemas._build(fingerprint(registry), registry)
    return result.snapshot.schema, result.untyped


def test_every_kind_gets_status_and_watch_fields_bound_to_the_endpoint() -> None:
    registry = KindRegistry.builtin()
    registry.register(
        definition(
            "Brand", "brands", {"type": "object", "properties": {"stock": {"type": "integer"}}}
        )
    )
    schema, untyped = built(registry)
    assert schema.mutation_type is not None and schema.subscription_type is not None
    mutations, watches = schema.mutation_type.fields, schema.subscription_type.fields
    for field in ("updateBrandStatus", "updateProductStatus", "updateResourceStatus"):
        assert field in mutations, field
        assert list(mutations[field].args) == ["input"]
        input_type = schema.type_map[f"{field[:1].upper()}{field[1:]}Input"]
        assert isinstance(input_type, GraphQLInputObjectType)
        assert "repository" not in input_type.fields  # the URL's repository
        assert {"name", "resourceVersion", "status"} <= set(input_type.fields)
    brand_input = schema.type_map["UpdateBrandStatusInput"]
    assert isinstance(brand_input, GraphQLInputObjectType)
    assert "stock" in (brand_input.fields["status"].description or "")
    for field in ("watchBrands", "watchProducts", "watchCategories", "watchResources"):
        assert field in watches, field
        assert "repository" not in watches[field].args
        assert "resourceVersion" in watches[field].args
    query = schema.query_type
    assert query is not None
    assert "repository" not in query.fields["resources"].args
    assert "repository" not in query.fields["resource"].args
    assert not [u for u in untyped if "Brand" in u]


def test_a_kind_whose_names_are_taken_gets_none_and_says_why() -> None:
    registry = KindRegistry.builtin()
    registry.register(definition("Resource", "resources"))  # updateResourceStatus, watchResources
    registry.register(definition("Brand", "brands"))
    schema, untyped = built(registry)
    assert schema.mutation_type is not None and schema.subscription_type is not None
    # the generic fields stay the platform's (their kind argument is still there)
    assert (
        "kind"
        in schema.mutation_type.fields["updateResourceStatus"].args["input"].type.of_type.fields
    )
    assert "kind" in schema.subscription_type.fields["watchResources"].args
    assert "updateBrandStatus" in schema.mutation_type.fields
    reasons = [u for u in untyped if u.startswith("Resource (no ")]
    assert any("updateResourceStatus" in u and "is taken" in u for u in reasons), untyped
    assert any("watchResources" in u for u in reasons), untyped
