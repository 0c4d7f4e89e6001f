"""JSON Schema → GraphQL over a table of constructs x the places a schema can put them.

Every construct of ``CONSTRUCTS`` (scalars, formats, Money, enums, objects, maps,
combinators, tuples, ...) is put in each of ``PLACES`` (an optional or a required property,
array items, a ``$defs`` entry used by ``$ref``, a nested object, ``oneOf`` with null), each
combination is its own kind: the schema must build and validate (never a crash), the field
must have the predicted type, the reason a construct is served less precisely must be in the
field's description, and a query must read the construct's value back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    get_named_type,
    graphql_sync,
    validate_schema,
)

from gitstore.api.catalog.resources import CatalogResource
from gitstore.api.catalog.types.generate import TypeProblem, types_for_kind
from gitstore.api.graphql.builder import SchemaBuilder
from gitstore.domain.content import kind_definition_from_manifest, parse_manifest

OBJECT = "<object>"  # a named object type (its name depends on the place)
ENUM = "<enum>"  # a named enum type
MONEY = {"amount": "19.90", "currency": "EUR"}


@dataclass(frozen=True)
class Construct:
    name: str
    schema: dict[str, Any]
    graphql: str  # the named type, OBJECT or ENUM
    value: Any  # a value of the construct in a spec
    read: Any  # what the query returns for it
    selection: str = ""  # sub-selection for objects
    note: str | None = None  # text the field's description must carry
    nullable: bool = False  # the construct itself allows null


SHAPE = {"type": "object", "properties": {"a": {"type": "string"}}}
CONSTRUCTS = [
    Construct("string", {"type": "string"}, "String", "x", "x"),
    Construct(
        "datetime",
        {"type": "string", "format": "date-time"},
        "DateTime",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T10:00:00Z",
    ),
    Construct(
        "datetime-x",
        {"type": "string", "x-gitstore-type": "DateTime"},
        "DateTime",
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00Z",
    ),
    Construct("decimal", {"type": "string", "format": "decimal"}, "Decimal", "19.90", "19.90"),
    Construct(
        "decimal-x", {"type": "string", "x-gitstore-type": "Decimal"}, "Decimal", "0.5", "0.5"
    ),
    Construct(
        "money",
        {
            "type": "object",
            "x-gitstore-type": "Money",
            "required": ["amount", "currency"],
            "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}},
        },
        "Money",
        MONEY,
        MONEY,
        "{ amount currency }",
    ),
    Construct("boolean", {"type": "boolean"}, "Boolean", True, True),
    Construct("number", {"type": "number"}, "Float", 1.5, 1.5),
    Construct("int32", {"type": "integer", "minimum": 0, "maximum": 100}, "Int", 7, 7),
    Construct("int32-format", {"type": "integer", "format": "int32"}, "Int", -7, -7),
    Construct("int-enum", {"enum": [1, 2, 3]}, "Int", 2, 2),
    Construct("big-int", {"type": "integer"}, "Float", 2**40, float(2**40)),
    Construct("enum", {"enum": ["gold-plus", "2nd", "Silver Level"]}, ENUM, "2nd", "_2ND"),
    Construct(
        "enum-clash",
        {"enum": ["a-b", "a_b"]},
        "String",
        "a_b",
        "a_b",
        note="Served as String: enum values 'a-b' and 'a_b' both give the GraphQL name A_B",
    ),
    Construct(
        "enum-empty",
        {"enum": ["", "x"]},
        "String",
        "",
        "",
        note="Served as String: enum value '' gives no GraphQL name",
    ),
    Construct("enum-null", {"enum": ["on", None]}, ENUM, "on", "ON", nullable=True),
    Construct("const", {"const": "fixed"}, "String", "fixed", "fixed"),
    Construct("type-null", {"type": ["string", "null"]}, "String", "x", "x", nullable=True),
    Construct(
        "oneof-null",
        {"oneOf": [{"type": "null"}, {"type": "integer", "maximum": 9, "minimum": 0}]},
        "Int",
        3,
        3,
        nullable=True,
    ),
    Construct("object", SHAPE, OBJECT, {"a": "z"}, {"a": "z"}, "{ a }"),
    Construct(
        "object-open",
        {**SHAPE, "additionalProperties": True},
        OBJECT,
        {"a": "z", "b": 1},
        {"a": "z"},
        "{ a }",
    ),
    Construct(
        "map",
        {"type": "object", "additionalProperties": {"type": "integer"}},
        "JSON",
        {"k": 1},
        {"k": 1},
        note="Served as JSON: a map",
    ),
    Construct(
        "map-pattern",
        {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        "JSON",
        {"xa": "1"},
        {"xa": "1"},
        note="Served as JSON: a map",
    ),
    Construct(
        "free-object",
        {"type": "object"},
        "JSON",
        {"q": [1]},
        {"q": [1]},
        note="Served as JSON: an object without declared properties",
    ),
    Construct(
        "oneof-objects",
        {
            "oneOf": [
                {**SHAPE, "required": ["a"]},
                {"type": "object", "required": ["b"], "properties": {"b": {"type": "integer"}}},
            ]
        },
        "JSON",
        {"b": 1},
        {"b": 1},
        note="Served as JSON: oneOf gives alternative or combined shapes",
    ),
    Construct(
        "anyof-scalars",
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "JSON",
        4,
        4,
        note="Served as JSON: anyOf",
    ),
    Construct(
        "allof-extends",
        {"allOf": [SHAPE, {"required": ["c"], "properties": {"c": {"type": "string"}}}]},
        OBJECT,
        {"a": "1", "c": "2"},
        {"a": "1", "c": "2"},
        "{ a c }",
    ),
    Construct(
        "allof-scalars",
        {"allOf": [{"type": ["string", "integer"]}, {"type": ["string", "boolean"]}]},
        "JSON",
        "x",
        "x",
        note="Served as JSON: allOf",
    ),
    Construct(
        "oneof-constraints",
        {**SHAPE, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        OBJECT,
        {"a": "z"},
        {"a": "z"},
        "{ a }",
    ),
    Construct("not", {"type": "string", "not": {"const": "no"}}, "String", "yes", "yes"),
    Construct(
        "not-alone",
        {"not": {"type": "string"}},
        "JSON",
        5,
        5,
        note="Served as JSON: the schema gives no type",
    ),
    Construct(
        "if-then-shape",
        {
            **SHAPE,
            "if": {"properties": {"a": {"const": "x"}}},
            "then": {"properties": {"b": {"type": "integer"}}},
        },
        "JSON",
        {"a": "x", "b": 1},
        {"a": "x", "b": 1},
        note="Served as JSON: if/then/else changes its shape",
    ),
    Construct(
        "if-then-required",
        {**SHAPE, "if": {"required": ["a"]}, "then": {"required": ["a"]}},
        OBJECT,
        {"a": "x"},
        {"a": "x"},
        "{ a }",
    ),
    Construct(
        "dependent",
        {**SHAPE, "dependentSchemas": {"a": {"properties": {"d": {"type": "string"}}}}},
        "JSON",
        {"a": "x"},
        {"a": "x"},
        note="Served as JSON: dependentSchemas changes its shape",
    ),
    Construct(
        "tuple",
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "JSON",
        ["a", 1],
        ["a", 1],
        note="Served as JSON: it is a tuple",
    ),
    Construct(
        "several-types",
        {"type": ["string", "integer"]},
        "JSON",
        "s",
        "s",
        note="Served as JSON: it allows several types (integer, string)",
    ),
    Construct("any", {}, "JSON", [1, "a"], [1, "a"], note="Served as JSON: any value"),
    Construct("array", {"type": "array", "items": {"type": "string"}}, "[String!]", ["a"], ["a"]),
    Construct("array-any", {"type": "array"}, "[JSON]", [1, None], [1, None]),
    Construct(
        "array-of-maps",
        {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
        "[JSON!]",
        [{"a": 1}],
        [{"a": 1}],
        note="Items: Served as JSON: a map",
    ),
]


@dataclass(frozen=True)
class Place:
    """Where a construct goes: ``schema(c)`` is the kind's schema, ``wrap`` puts a value
    where the construct is (in the spec, and in the query's answer), ``query`` the selection,
    ``type_text(named, nullable)`` the field's predicted type."""

    name: str
    schema: Callable[[dict[str, Any]], dict[str, Any]]
    wrap: Callable[[Any], Any]
    query: Callable[[str], str]
    type_text: Callable[[str, bool], str]  # (named type text, construct nullable)
    object_name: str  # the name of a named type made for the construct


def _optional(named: str, _nullable: bool) -> str:
    return named


def _required(named: str, nullable: bool) -> str:
    return named if nullable else f"{named}!"


def _items(named: str, nullable: bool) -> str:
    return f"[{named}]" if nullable else f"[{named}!]"


PLACES = [
    Place(
        "optional",
        lambda c: {"type": "object", "properties": {"p": c}},
        lambda v: {"p": v},
        lambda sel: f"p {sel}",
        _optional,
        "ThingP",
    ),
    Place(
        "required",
        lambda c: {"type": "object", "required": ["p"], "properties": {"p": c}},
        lambda v: {"p": v},
        lambda sel: f"p {sel}",
        _required,
        "ThingP",
    ),
    Place(
        "items",
        lambda c: {"type": "object", "properties": {"p": {"type": "array", "items": c}}},
        lambda v: {"p": [v]},
        lambda sel: f"p {sel}",
        _items,
        "ThingP",
    ),
    Place(
        "ref",
        lambda c: {"type": "object", "properties": {"p": {"$ref": "#/$defs/d"}}, "$defs": {"d": c}},
        lambda v: {"p": v},
        lambda sel: f"p {sel}",
        _optional,
        "ThingD",
    ),
    Place(
        "ref-chain",
        lambda c: {
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/alias"}},
            "$defs": {"alias": {"$ref": "#/$defs/d"}, "d": c},
        },
        lambda v: {"p": v},
        lambda sel: f"p {sel}",
        _optional,
        "ThingD",  # an alias is its target's type
    ),
    Place(
        "nested",
        lambda c: {
            "type": "object",
            "properties": {"o": {"type": "object", "required": ["p"], "properties": {"p": c}}},
        },
        lambda v: {"o": {"p": v}},
        lambda sel: f"o {{ p {sel} }}",
        _required,
        "ThingOP",
    ),
    Place(
        "oneof-null",
        lambda c: {
            "type": "object",
            "required": ["p"],
            "properties": {"p": {"oneOf": [{"type": "null"}, {"$ref": "#/$defs/d"}]}},
            "$defs": {"d": c},
        },
        lambda v: {"p": v},
        lambda sel: f"p {sel}",
        _optional,  # required but nullable
        "ThingD",
    ),
]


def kind(schema: dict[str, Any]) -> Any:
    manifest = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": "things"},
        "spec": {
            "group": "acme.example",
            "names": {"kind": "Thing", "plural": "things", "singular": "thing"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
        },
    }
    raw = json.dumps(manifest).encode()
    return kind_definition_from_manifest(parse_manifest(raw, "kinds/things.json"))


def resource(spec: dict[str, Any]) -> CatalogResource:
    value = {
        "apiVersion": "acme.example/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": spec,
    }
    return CatalogResource.from_value(
        repository="acme/shop", kind="Thing", name="t", value=value, version="a" * 40
    )


def field_of(schema_type: GraphQLNamedType, place: Place) -> GraphQLField:
    assert isinstance(schema_type, GraphQLObjectType)
    if place.name == "nested":
        outer = get_named_type(schema_type.fields["o"].type)
        assert isinstance(outer, GraphQLObjectType)
        return outer.fields["p"]
    return schema_type.fields["p"]


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("construct", CONSTRUCTS, ids=lambda c: c.name)
def test_construct_in_place(construct: Construct, place: Place) -> None:
    builder = SchemaBuilder()
    problems: list[TypeProblem] = []
    thing = types_for_kind(kind(place.schema(construct.schema)), builder, problems=problems)
    builder.add_query_field("thing", GraphQLField(thing, resolve=lambda _r, info: info.context))
    schema = builder.build()
    assert validate_schema(schema) == []
    assert problems == []

    field = field_of(schema.type_map["Thing"], place)
    named = get_named_type(field.type)
    if construct.graphql == OBJECT:
        assert isinstance(named, GraphQLObjectType)
        assert named.name == place.object_name
        expected_named = place.object_name
    elif construct.graphql == ENUM:
        assert isinstance(named, GraphQLEnumType)
        assert named.name == place.object_name
        expected_named = place.object_name
    else:
        expected_named = construct.graphql
    nullable = construct.nullable or place.name == "oneof-null"
    assert str(field.type) == place.type_text(expected_named, nullable)
    if construct.note is not None:
        assert field.description is not None and construct.note in field.description
    else:
        assert field.description is None or "Served as" not in field.description

    query = "{ thing { " + place.query(construct.selection) + " } }"
    result = graphql_sync(schema, query, context_value=resource(place.wrap(construct.value)))
    assert result.errors is None, result.errors
    assert result.data is not None
    assert result.data["thing"] == place.wrap(construct.read)


def test_null_values_read_as_null_where_the_construct_allows_it() -> None:
    for construct in CONSTRUCTS:
        if not construct.nullable:
            continue
        builder = SchemaBuilder()
        schema_ = {"type": "object", "properties": {"p": construct.schema}}
        thing = types_for_kind(kind(schema_), builder)
        builder.add_query_field("thing", GraphQLField(thing, resolve=lambda _r, i: i.context))
        out = graphql_sync(builder.build(), "{ thing { p } }", context_value=resource({"p": None}))
        assert out.errors is None and out.data == {"thing": {"p": None}}, construct.name
