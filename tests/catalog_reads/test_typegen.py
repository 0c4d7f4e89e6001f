"""The type generator on the built-in kinds and on custom KindDefinitions: nested objects,
lists, enums, scalars, JSON fallbacks, name sanitising, nullability, defaults, descriptions and
deprecations — checked on the built schema and by executing queries against it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    graphql_sync,
    print_type,
    validate_schema,
)

from gitstore.api.catalog.ids import decode_resource_id, encode_resource_id
from gitstore.api.catalog.resources import CatalogResource
from gitstore.api.catalog.types.generate import enum_value_name, field_name, types_for_kind
from gitstore.api.graphql.builder import SchemaBuilder
from gitstore.domain.content import (
    KindDefinition,
    KindRegistry,
    kind_definition_from_manifest,
    parse_manifest,
)
from gitstore.domain.errors import InvalidArgument

SHA = "a" * 40


def build(*definitions: KindDefinition, builder: SchemaBuilder | None = None) -> GraphQLSchema:
    """A schema with one root field per kind returning the test's resource."""
    builder = builder or SchemaBuilder()
    for definition in definitions:
        kind_type = types_for_kind(definition, builder)
        builder.add_query_field(
            definition.kind[:1].lower() + definition.kind[1:],
            GraphQLField(kind_type, resolve=lambda _root, info: info.context),
        )
    schema = builder.build()
    assert validate_schema(schema) == []
    return schema


def run(schema: GraphQLSchema, query: str, resource: CatalogResource) -> dict[str, Any]:
    result = graphql_sync(schema, query, context_value=resource)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def resource(kind: str, spec: dict[str, Any], name: str = "thing") -> CatalogResource:
    value = {
        "apiVersion": "x/v1",
        "kind": kind,
        "metadata": {"name": name, "labels": {"a": "b"}, "annotations": {}},
        "spec": spec,
        "path": f"things/{name}.yaml",
    }
    return CatalogResource.from_value(
        repository="acme/shop", kind=kind, name=name, value=value, version=SHA
    )


def custom_kind(
    schema: dict[str, Any], deprecated: list[dict[str, str]] | None = None, kind: str = "Brand"
) -> KindDefinition:
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True, "schema": schema}
    if deprecated:
        version["deprecatedFields"] = deprecated
    plural = kind.lower() + "s"
    manifest = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": plural},
        "spec": {
            "group": "acme.example",
            "description": f"A {kind}.",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [version],
        },
    }
    return kind_definition_from_manifest(
        parse_manifest(json.dumps(manifest).encode(), f"kinds/{plural}.json")
    )


def field_type(schema: GraphQLSchema, type_name: str, field: str) -> str:
    object_type = schema.type_map[type_name]
    assert isinstance(object_type, GraphQLObjectType)
    return str(object_type.fields[field].type)


# ---------------------------------------------------------------------- built-in kinds


def test_builtin_product_type() -> None:
    registry = KindRegistry.builtin()
    schema = build(registry.get("Product"), registry.get("Category"), registry.get("Collection"))
    product = schema.type_map["Product"]
    assert isinstance(product, GraphQLObjectType)
    assert list(product.fields)[:7] == [
        "id",
        "name",
        "labels",
        "annotations",
        "version",
        "path",
        "spec",
    ]
    expected = {
        "id": "ID!",
        "title": "String!",  # required
        "handle": "String",
        "status": "ProductStatus!",  # has a default
        "price": "ProductMoney",
        "compareAtPrice": "ProductMoney",  # one type for one $ref
        "variants": "[ProductVariant!]",
        "options": "[ProductOption!]",
        "media": "[ProductMedia!]",
        "categories": "[String!]",
        "attributes": "JSON",  # a map
        "seo": "ProductSeo",
    }
    for name, type_text in expected.items():
        assert str(product.fields[name].type) == type_text, name
    assert field_type(schema, "ProductMoney", "amount") == "String!"  # decimals stay strings
    assert field_type(schema, "ProductMoney", "currency") == "ProductCurrency!"
    assert field_type(schema, "ProductVariant", "options") == "JSON"
    assert field_type(schema, "ProductVariant", "inventoryQuantity") == "Int"
    assert field_type(schema, "ProductVariant", "weight") == "ProductWeight"
    status = schema.type_map["ProductStatus"]
    assert isinstance(status, GraphQLEnumType)
    assert {n: v.value for n, v in status.values.items()} == {
        "DRAFT": "draft",
        "ACTIVE": "active",
        "ARCHIVED": "archived",
    }
    assert product.fields["title"].description == "Product title shown to shoppers."
    relation = schema.type_map["CollectionRuleRelation"]
    assert isinstance(relation, GraphQLEnumType)
    assert "NOT_EQUALS" in relation.values and "GREATER_THAN" in relation.values
    assert field_type(schema, "CollectionRule", "field") == "CollectionRuleField!"
    assert field_type(schema, "Category", "sortOrder") == "Int"
    # the collection's top-level oneOf only constrains: its fields are typed, not JSON
    assert field_type(schema, "Collection", "products") == "[String!]"
    assert field_type(schema, "Collection", "rules") == "[CollectionRule!]"


def test_builtin_product_resolves_values_and_defaults() -> None:
    schema = build(KindRegistry.builtin().get("Product"))
    spec = {
        "title": "Tee",
        "price": {"amount": "19.90", "currency": "EUR"},
        "variants": [{"sku": "T-1", "options": {"size": "M"}}],
        "attributes": {"cotton": 100, "organic": True},
    }
    out = run(
        schema,
        """{ product { id name version path labels spec title status
             price { amount currency } variants { sku options inventoryPolicy }
             attributes seo { title } } }""",
        resource("Product", spec),
    )["product"]
    assert out == {
        "id": encode_resource_id("Product", "acme/shop", "thing"),
        "name": "thing",
        "version": SHA,
        "path": "things/thing.yaml",
        "labels": {"a": "b"},
        "spec": spec,
        "title": "Tee",
        "status": "DRAFT",
        "price": {"amount": "19.90", "currency": "EUR"},
        "variants": [{"sku": "T-1", "options": {"size": "M"}, "inventoryPolicy": "DENY"}],
        "attributes": {"cotton": 100, "organic": True},
        "seo": None,
    }
    assert decode_resource_id(out["id"], "Product").name == "thing"


# ---------------------------------------------------------------------- custom kinds

BRAND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "name"],
    "properties": {
        "title": {"type": "string", "description": "What shoppers see."},
        "name": {"type": "string"},  # clashes with the envelope
        "logoUrl": {"type": "string"},
        "logo": {"$ref": "#/$defs/image"},
        "banner": {"$ref": "#/$defs/image"},
        "gallery": {"type": "array", "items": {"$ref": "#/$defs/image"}},
        "tier": {"enum": ["gold-plus", "silver", "Bronze Level", "2nd"]},
        "clash": {"enum": ["a-b", "a_b"]},
        "numbers": {"enum": [1, 2, 3], "type": "integer"},
        "pack size": {"type": "integer", "minimum": 0, "maximum": 1000},
        "9lives": {"type": "boolean"},
        "__meta": {"type": "number"},
        "big": {"type": "integer"},
        "score": {"type": ["number", "null"]},
        "mixed": {"type": ["string", "number"]},
        "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "anything": {},
        "map": {"type": "object", "additionalProperties": {"type": "string"}},
        "empty": {"type": "object"},
        "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        "maybe": {"type": "array", "items": {"type": ["string", "null"]}},
        "address": {
            "type": "object",
            "description": "Where it is.",
            "properties": {
                "street": {"type": "string"},
                "geo": {"type": "object", "properties": {"lat": {"type": "number"}}},
            },
        },
        "tree": {"$ref": "#/$defs/node"},
        "flag": {"type": "boolean", "default": True},
        "old": {"type": "string", "deprecated": True},
    },
    "$defs": {
        "image": {
            "type": "object",
            "description": "A picture.",
            "properties": {"url": {"type": "string"}, "alt": {"type": "string"}},
            "required": ["url"],
        },
        "node": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
        },
    },
}


@pytest.fixture(scope="module")
def brand_schema() -> GraphQLSchema:
    definition = custom_kind(
        BRAND_SCHEMA,
        deprecated=[
            {"path": "spec.logoUrl", "reason": "Use logo.url"},
            {"path": "spec.gallery[].alt", "reason": "Alt text moves to captions"},
            {"path": "spec.address.geo.lat", "reason": "Use coordinates"},
        ],
    )
    return build(definition)


def test_custom_kind_types(brand_schema: GraphQLSchema) -> None:
    brand = brand_schema.type_map["Brand"]
    assert isinstance(brand, GraphQLObjectType)
    assert brand.description == "A Brand."
    types = {name: str(f.type) for name, f in brand.fields.items()}
    assert types == {
        "id": "ID!",
        "name": "String!",
        "labels": "JSON!",
        "annotations": "JSON!",
        "version": "String!",
        "path": "String",
        "spec": "JSON!",
        "resourceStatus": "JSON",
        "title": "String!",
        "specName": "String!",  # renamed away from the envelope's name
        "logoUrl": "String",
        "logo": "BrandImage",
        "banner": "BrandImage",
        "gallery": "[BrandImage!]",
        "tier": "BrandTier",
        "clash": "String",  # a-b and a_b would both be A_B
        "numbers": "Int",  # an enum of integers: its values keep it within 32 bits
        "packSize": "Int",
        "_9lives": "Boolean",
        "_meta": "Float",
        "big": "Float",  # an unbounded integer does not fit Int
        "score": "Float",
        "mixed": "JSON",
        "choice": "JSON",
        "anything": "JSON",
        "map": "JSON",
        "empty": "JSON",
        "matrix": "[[Float!]!]",
        "maybe": "[String]",
        "address": "BrandAddress",
        "tree": "BrandNode",
        "flag": "Boolean!",
        "old": "String",
    }
    tier = brand_schema.type_map["BrandTier"]
    assert isinstance(tier, GraphQLEnumType)
    assert {n: v.value for n, v in tier.values.items()} == {
        "GOLD_PLUS": "gold-plus",
        "SILVER": "silver",
        "BRONZE_LEVEL": "Bronze Level",
        "_2ND": "2nd",
    }
    image = brand_schema.type_map["BrandImage"]
    assert isinstance(image, GraphQLObjectType)
    assert image.description == "A picture."
    assert str(image.fields["url"].type) == "String!"
    assert field_type(brand_schema, "BrandAddress", "geo") == "BrandAddressGeo"
    assert brand_schema.type_map["BrandAddress"].description == "Where it is."
    node = brand_schema.type_map["BrandNode"]
    assert isinstance(node, GraphQLObjectType)
    assert str(node.fields["children"].type) == "[BrandNode!]"  # recursive $ref


def test_custom_kind_deprecations(brand_schema: GraphQLSchema) -> None:
    def reason(type_name: str, field: str) -> str | None:
        object_type = brand_schema.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        found = object_type.fields[field].deprecation_reason
        assert found is None or isinstance(found, str)
        return found

    assert reason("Brand", "logoUrl") == "Use logo.url"
    assert reason("BrandImage", "alt") == "Alt text moves to captions"
    assert reason("BrandAddressGeo", "lat") == "Use coordinates"
    assert reason("Brand", "old") == "Deprecated in the kind's schema."
    assert reason("Brand", "title") is None
    assert '@deprecated(reason: "Use logo.url")' in print_type(brand_schema.type_map["Brand"])
    introspection = graphql_sync(
        brand_schema,
        '{ __type(name: "Brand") { fields(includeDeprecated: false) { name } } }',
    )
    assert introspection.data is not None
    names = {f["name"] for f in introspection.data["__type"]["fields"]}
    assert "logoUrl" not in names and "logo" in names


def test_custom_kind_resolves_sanitised_names(brand_schema: GraphQLSchema) -> None:
    spec = {
        "title": "Acme",
        "name": "acme-inc",
        "tier": "Bronze Level",
        "pack size": 12,
        "9lives": True,
        "__meta": 1.5,
        "map": {"a": "b"},
        "choice": 7,
        "gallery": [{"url": "u1"}, {"url": "u2", "alt": "two"}],
        "tree": {"label": "root", "children": [{"label": "leaf", "children": []}]},
        "matrix": [[1, 2], [3]],
    }
    out = run(
        brand_schema,
        """{ brand { name title specName tier packSize _9lives _meta map choice flag
             gallery { url alt } tree { label children { label children { label } } }
             matrix clash } }""",
        resource("Brand", spec, name="acme"),
    )["brand"]
    assert out == {
        "name": "acme",
        "title": "Acme",
        "specName": "acme-inc",
        "tier": "BRONZE_LEVEL",
        "packSize": 12,
        "_9lives": True,
        "_meta": 1.5,
        "map": {"a": "b"},
        "choice": 7,
        "flag": True,  # the default
        "gallery": [{"url": "u1", "alt": None}, {"url": "u2", "alt": "two"}],
        "tree": {"label": "root", "children": [{"label": "leaf", "children": []}]},
        "matrix": [[1.0, 2.0], [3.0]],
        "clash": None,
    }


def test_taken_type_names_get_a_suffix() -> None:
    builder = SchemaBuilder()
    builder.add_type(GraphQLObjectType("BrandImage", {"x": GraphQLField(GraphQLString)}))
    schema = build(
        custom_kind(
            {
                "type": "object",
                "properties": {
                    "logo": {"$ref": "#/$defs/image"},
                    "connection": {"type": "object", "properties": {"a": {"type": "string"}}},
                    "a": {"type": "object", "properties": {"b": {"type": "string"}}},
                    "aB": {"type": "string"},
                    "a-b": {"type": "string"},
                },
                "$defs": {"image": {"type": "object", "properties": {"u": {"type": "string"}}}},
            }
        ),
        builder=builder,
    )
    assert field_type(schema, "Brand", "logo") == "BrandImage2"
    # BrandConnection is kept for the connection type of Brand
    assert field_type(schema, "Brand", "connection") == "BrandConnection2"
    assert field_type(schema, "Brand", "a") == "BrandA"
    assert field_type(schema, "Brand", "aB") == "String"
    assert field_type(schema, "Brand", "aB_2") == "String"  # a-b -> aB, taken


def test_a_spec_without_properties_has_only_the_envelope() -> None:
    schema = build(custom_kind({"type": "object"}, kind="Note"))
    note = schema.type_map["Note"]
    assert isinstance(note, GraphQLObjectType)
    envelope = ["id", "name", "labels", "annotations", "version", "path", "spec", "resourceStatus"]
    assert list(note.fields) == envelope
    out = run(schema, "{ note { spec } }", resource("Note", {"free": ["form"]}))
    assert out == {"note": {"spec": {"free": ["form"]}}}


def test_types_are_fresh_per_build() -> None:
    definition = KindRegistry.builtin().get("Category")
    first, second = build(definition), build(definition)
    assert first.type_map["Category"] is not second.type_map["Category"]
    assert isinstance(first.type_map["Category"], GraphQLObjectType)


# ---------------------------------------------------------------------- names and ids


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("title", "title"),
        ("compareAtPrice", "compareAtPrice"),
        ("pack size", "packSize"),
        ("logo-url", "logoUrl"),
        ("9lives", "_9lives"),
        ("__meta", "_meta"),
        ("_private", "_private"),
        ("---", "_"),
        ("größe", "grE"),
    ],
)
def test_field_names(raw: str, name: str) -> None:
    assert field_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("draft", "DRAFT"),
        ("compareAtPrice", "COMPARE_AT_PRICE"),
        ("a-b", "A_B"),
        ("2nd", "_2ND"),
        ("EUR", "EUR"),
        ("--", None),
    ],
)
def test_enum_value_names(raw: str, name: str | None) -> None:
    assert enum_value_name(raw) == name


def test_resource_ids_round_trip_and_refuse_garbage() -> None:
    encoded = encode_resource_id("Product", "acme/shop", "blue-shirt")
    decoded = decode_resource_id(encoded)
    assert (decoded.kind, decoded.repository, decoded.name) == (
        "Product",
        "acme/shop",
        "blue-shirt",
    )
    assert decode_resource_id(encoded.rstrip("=")) == decoded  # unpadded
    for bad in ("", "%%%", encode_resource_id("Product", "acme", "x"), "Z2lkOi8vT3RoZXIveA=="):
        with pytest.raises(InvalidArgument) as info:
            decode_resource_id(bad)
        assert info.value.field == "id"
    with pytest.raises(InvalidArgument, match="is a Product ID, not a Category ID"):
        decode_resource_id(encoded, "Category")


def test_list_and_non_null_wrappers_are_graphql_core_types() -> None:
    schema = build(KindRegistry.builtin().get("Product"))
    product = schema.type_map["Product"]
    assert isinstance(product, GraphQLObjectType)
    variants = product.fields["variants"].type
    assert isinstance(variants, GraphQLList)
    assert isinstance(variants.of_type, GraphQLNonNull)
