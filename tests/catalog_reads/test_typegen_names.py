"""Names of a kind's GraphQL types: shared and recursive ``$ref``s, and every kind of name
collision reported as a ``TypeProblem`` naming the kind, version and JSON pointer (the schema
still builds, the later name suffixed) — within one kind, between kinds and with the
platform (``CustomKindsModule``, the store endpoint's module)."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    validate_schema,
)

from gitstore.api.catalog.types.generate import TypeProblem, types_for_kind
from gitstore.api.graphql.builder import SchemaBuilder
from gitstore.api.graphql.catalog_reads import CatalogReadsModule
from gitstore.api.storeschema.check import name_errors, name_problems
from gitstore.api.storeschema.groups import CustomKindsModule
from gitstore.api.storeschema.status import SchemaStatusModule
from gitstore.domain.content.kindset import registry_for
from gitstore.domain.content.manifest import Manifest
from tests.catalog_reads.test_typegen_table import kind as thing_kind

OBJ = {"type": "object", "properties": {"x": {"type": "string"}}}


def build(schema: dict[str, Any]) -> tuple[GraphQLSchema, list[TypeProblem]]:
    builder = SchemaBuilder()
    problems: list[TypeProblem] = []
    thing = types_for_kind(thing_kind(schema), builder, problems=problems)
    builder.add_query_field("thing", GraphQLField(thing))
    built = builder.build()
    assert validate_schema(built) == []
    return built, problems


def type_of(schema: GraphQLSchema, type_name: str, field: str) -> str:
    object_type = schema.type_map[type_name]
    assert isinstance(object_type, GraphQLObjectType)
    return str(object_type.fields[field].type)


def test_a_shared_ref_is_one_type_and_recursion_terminates() -> None:
    schema, problems = build(
        {
            "type": "object",
            "properties": {
                "a": {"$ref": "#/$defs/node"},
                "b": {"$ref": "#/$defs/node", "description": "Field text."},
                "c": {"type": "array", "items": {"$ref": "#/$defs/alias"}},
                "even": {"$ref": "#/$defs/even"},
                "loop": {"$ref": "#/$defs/loop"},
                "self": {"$ref": "#/$defs/self"},
                "root": {"$ref": "#"},
            },
            "$defs": {
                "node": {
                    "type": "object",
                    "description": "A tree node.",
                    "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                },
                "alias": {"$ref": "#/$defs/node"},
                "even": {"type": "object", "properties": {"odd": {"$ref": "#/$defs/odd"}}},
                "odd": {"type": "object", "properties": {"even": {"$ref": "#/$defs/even"}}},
                "loop": {"type": "array", "items": {"$ref": "#/$defs/loop"}},
                "self": {"$ref": "#/$defs/self"},
            },
        }
    )
    assert problems == []
    thing = schema.type_map["Thing"]
    assert isinstance(thing, GraphQLObjectType)
    node = schema.type_map["ThingNode"]
    assert get_named_type(thing.fields["a"].type) is node
    assert get_named_type(thing.fields["b"].type) is node
    assert get_named_type(thing.fields["c"].type) is node  # an alias is its target
    assert "ThingAlias" not in schema.type_map
    assert node.description == "A tree node."
    assert thing.fields["b"].description == "Field text."
    assert type_of(schema, "ThingNode", "kids") == "[ThingNode!]"
    assert type_of(schema, "ThingEven", "odd") == "ThingOdd"
    assert type_of(schema, "ThingOdd", "even") == "ThingEven"
    assert type_of(schema, "Thing", "loop") == "[JSON!]"  # an array that contains itself
    assert "refers to itself" in (thing.fields["loop"].description or "")
    assert type_of(schema, "Thing", "self") == "JSON"
    assert "cannot be followed" in (thing.fields["self"].description or "")
    assert type_of(schema, "Thing", "root") == "ThingRoot"  # "#" is the spec's shape
    assert type_of(schema, "ThingRoot", "a") == "ThingNode"


def test_two_definitions_with_one_type_name_are_reported() -> None:
    schema, problems = build(
        {
            "type": "object",
            "properties": {
                "a": {"$ref": "#/$defs/money info"},
                "b": {"$ref": "#/$defs/moneyInfo"},
                "price": OBJ,
                "cost": {"$ref": "#/$defs/price"},
            },
            "$defs": {"money info": OBJ, "moneyInfo": OBJ, "price": OBJ},
        }
    )
    assert type_of(schema, "Thing", "a") == "ThingMoneyInfo"
    assert type_of(schema, "Thing", "b") == "ThingMoneyInfo2"
    assert type_of(schema, "Thing", "price") == "ThingPrice"
    assert type_of(schema, "Thing", "cost") == "ThingPrice2"
    assert [(p.kind, p.version, p.pointer) for p in problems] == [
        ("Thing", "v1", "#/$defs/moneyInfo"),
        ("Thing", "v1", "#/$defs/price"),
    ]
    assert "ThingMoneyInfo is already used by #/$defs/money info" in problems[0].message
    assert "ThingPrice is already used by #/properties/price" in problems[1].message


def test_field_names_colliding_after_sanitising_are_reported() -> None:
    schema, problems = build(
        {
            "type": "object",
            "properties": {
                "pack size": {"type": "string"},
                "packSize": {"type": "string"},
                "name": {"type": "string"},
                "specName": {"type": "string"},
                "inner": {
                    "type": "object",
                    "properties": {"a-b": {"type": "string"}, "a b": {"type": "string"}},
                },
            },
        }
    )
    assert type_of(schema, "Thing", "packSize_2") == "String"
    assert type_of(schema, "ThingInner", "aB_2") == "String"
    assert [(p.pointer, p.message.split(";")[0]) for p in problems] == [
        ("#/properties/packSize", "field name packSize is already used by #/properties/pack size"),
        ("#/properties/specName", "field name specName is already used by #/properties/name"),
        (
            "#/properties/inner/properties/a b",
            "field name aB is already used by #/properties/inner/properties/a-b",
        ),
    ]


def test_reserved_and_platform_type_names_are_reported() -> None:
    schema, problems = build(
        {
            "type": "object",
            "properties": {"c": {"$ref": "#/$defs/connection"}, "i": {"$ref": "#/$defs/input"}},
            "$defs": {"connection": OBJ, "input": OBJ},
        }
    )
    assert type_of(schema, "Thing", "c") == "ThingConnection2"
    assert type_of(schema, "Thing", "i") == "ThingInput2"
    assert {p.pointer for p in problems} == {"#/$defs/connection", "#/$defs/input"}
    assert all("the kind's own types" in p.message for p in problems)


def test_bad_special_types_are_reported_and_typed_from_their_shape() -> None:
    schema, problems = build(
        {
            "type": "object",
            "properties": {
                "m": {"type": "object", "x-gitstore-type": "Money", "properties": {"v": {}}},
                "p": {"type": "string", "x-gitstore-type": "Price"},
            },
        }
    )
    assert type_of(schema, "Thing", "m") == "ThingM"
    assert type_of(schema, "Thing", "p") == "String"
    assert [p.pointer for p in problems] == ["#/properties/m", "#/properties/p"]
    assert "needs an object with properties amount and currency" in problems[0].message
    assert "'Price' is not one of Money, Decimal, DateTime" in problems[1].message


def definition(kind: str, schema: dict[str, Any]) -> Manifest:
    plural = kind.lower() + "s"
    return Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "KindDefinition",
            "metadata": {"name": plural},
            "spec": {
                "group": "acme.example",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
            },
        },
        f"kinds/{plural}.yaml",
    )


def store_builder(definitions: list[Manifest]) -> tuple[SchemaBuilder, CustomKindsModule]:
    kinds = registry_for(definitions, None)
    assert not kinds.errors, kinds.errors
    builder = SchemaBuilder()
    custom = CustomKindsModule(kinds.registry)
    for module in (
        CatalogReadsModule(kinds.registry, repository_argument=False),
        SchemaStatusModule(),
        custom,
    ):
        builder.module = module.name
        module.contribute(builder)
    return builder, custom


def test_kinds_colliding_with_each_other_or_the_platform_are_reported() -> None:
    logo = {"type": "object", "properties": {"logo": OBJ}}  # Brand's logo is BrandLogo
    page = {"type": "object", "properties": {"info": {"$ref": "#/$defs/info"}}}
    page["$defs"] = {"info": OBJ}  # PageInfo is the platform's
    builder, custom = store_builder(
        [
            definition("Brand", logo),
            definition("BrandLogo", OBJ),
            definition("Page", page),
            definition("SchemaStatus", OBJ),
        ]
    )
    schema = builder.build()
    assert validate_schema(schema) == []
    found = {(p.kind, p.pointer): p.message for p in custom.problems}
    assert set(found) == {("BrandLogo", "#"), ("Page", "#/$defs/info"), ("SchemaStatus", "#")}
    assert "taken by Brand v1 #/properties/logo" in found[("BrandLogo", "#")]
    assert "PageInfo is already used by the platform" in found[("Page", "#/$defs/info")]
    assert "taken by the platform" in found[("SchemaStatus", "#")]
    assert "BrandLogo" in custom.fallbacks and "SchemaStatus" in custom.fallbacks
    assert type_of(schema, "Page", "info") == "PageInfo2"


def test_write_time_errors_name_the_definition_file_and_pointer() -> None:
    clash = {"type": "object", "properties": {"a b": {}, "aB": {}}}
    kinds = registry_for([definition("Brand", clash), definition("Shelf", OBJ)], None)
    assert [p.kind for p in name_problems(kinds.registry, {"Brand", "Shelf"})] == ["Brand"]
    assert name_problems(kinds.registry, {"Shelf"}) == []
    [error] = name_errors(kinds.registry, {"Brand"})
    assert error.field == "spec.versions[0].schema"
    assert error.rule == "kind-definition"
    assert "GraphQL names of kind Brand (v1) collide at #/properties/aB" in error.message


def test_allof_extending_a_ref_is_one_object_type() -> None:
    base = {
        "type": "object",
        "required": ["sku"],
        "properties": {"sku": {"type": "string"}, "note": {"type": "string"}},
    }
    schema, problems = build(
        {
            "type": "object",
            "properties": {
                "item": {
                    "allOf": [
                        {"$ref": "#/$defs/base"},
                        {"required": ["qty"], "properties": {"qty": {"type": "number"}}},
                    ]
                },
                "clash": {
                    "allOf": [
                        {"$ref": "#/$defs/base"},
                        {"properties": {"sku": {"type": "integer"}}},  # sku given twice
                    ]
                },
            },
            "$defs": {"base": base},
        }
    )
    assert problems == []
    assert type_of(schema, "ThingItem", "sku") == "String!"
    assert type_of(schema, "ThingItem", "note") == "String"
    assert type_of(schema, "ThingItem", "qty") == "Float!"
    assert type_of(schema, "Thing", "clash") == "JSON"
