"""Store-schema building without a server: typed mutations that cannot be made, made safely
(a kind named like a platform mutation, a spec that cannot be an input type)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLNonNull, GraphQLScalarType

from gitstore.api.storeschema.schemas import StoreSchemas
from gitstore.config import load_settings
from gitstore.domain.content import KindRegistry
from gitstore.domain.content.kindset import registry_for
from gitstore.domain.content.manifest import Manifest
from tests.support.kinds import brand_kind


class Services:
    settings = load_settings()


def build(registry: KindRegistry, fp: str) -> Any:
    return StoreSchemas(Services())._build(fp, registry)  # type: ignore[arg-type]


def test_a_kind_named_like_a_platform_mutation_gets_none_of_its_own() -> None:
    """``Webhook`` would make ``deleteWebhook``, the releases module's: the kind is served
    (reads, ``applyManifests``) without typed mutations, and the schema still builds."""
    webhook = brand_kind()
    webhook["metadata"]["name"] = "webhooks"
    webhook["spec"]["names"] = {"kind": "Webhook", "plural": "webhooks", "singular": "webhook"}
    kinds = registry_for([Manifest.from_object(webhook), Manifest.from_object(brand_kind())])
    assert not kinds.errors

    built = build(kinds.registry, "webhook-test")
    mutations = built.snapshot.schema.mutation_type
    assert mutations is not None
    assert "upsertBrand" in mutations.fields and "deleteBrand" in mutations.fields
    assert "upsertWebhook" not in mutations.fields
    delete_webhook = mutations.fields["deleteWebhook"]  # the platform's, unchanged
    assert "id" in delete_webhook.args["input"].type.of_type.fields
    assert built.kinds == ("Brand", "Webhook")
    reasons = "\n".join(built.untyped)
    assert "Webhook: type name Webhook is taken by the platform" in reasons
    assert "Webhook (no typed mutations): type name DeleteWebhookInput" in reasons


def test_a_spec_that_cannot_be_typed_as_input_takes_json() -> None:
    """A chain of required objects back to itself is a fine output type but no valid input
    type: the kind's upsert takes ``spec: JSON!``, with the reason reported."""
    chain = brand_kind()
    chain["spec"]["versions"][0]["schema"] = {
        "type": "object",
        "required": ["link"],
        "properties": {"link": {"$ref": "#/$defs/link"}},
        "$defs": {
            "link": {
                "type": "object",
                "required": ["next"],
                "properties": {"next": {"$ref": "#/$defs/link"}},
            }
        },
    }
    kinds = registry_for([Manifest.from_object(chain)])
    assert not kinds.errors

    built = build(kinds.registry, "chain-test")
    upsert = built.snapshot.schema.type_map["UpsertBrandInput"]
    spec = upsert.fields["spec"].type  # type: ignore[attr-defined]
    assert isinstance(spec, GraphQLNonNull) and isinstance(spec.of_type, GraphQLScalarType)
    assert spec.of_type.name == "JSON"
    assert "link" not in upsert.fields  # type: ignore[attr-defined]
    assert any(u.startswith("Brand (upsert takes spec: JSON): ") for u in built.untyped)


def test_whole_floats_reach_the_spec_as_integers() -> None:
    """An unbounded ``integer`` is a GraphQL ``Float`` input; 5 must be written ``5``."""
    from gitstore.api.graphql.builder import SchemaBuilder
    from gitstore.api.storeschema.inputs import spec_inputs
    from gitstore.domain.content.kinds import kind_definition_from_manifest

    counted = brand_kind()
    counted["spec"]["versions"][0]["schema"]["properties"]["count"] = {"type": "integer"}
    definition = kind_definition_from_manifest(Manifest.from_object(counted))
    typed = spec_inputs(definition, SchemaBuilder(), {"name"})
    assert str(typed.fields["count"].type) == "Float"
    spec = typed.spec_of({"name": "x", "title": "T", "count": 5.0})
    assert spec == {"title": "T", "count": 5} and isinstance(spec["count"], int)
    assert typed.spec_of({"count": 2.5}) == {"count": 2.5}
