"""GraphQL input types generated from a kind's JSON Schema, for ``upsert<Kind>`` on store endpoints.

``spec_inputs(definition, builder, taken)`` types the top-level properties of the kind's hub
(storage) schema as input fields — flat, beside ``name``/``labels``/... of the mutation input
(``upsertBrand(input: {name: "acme", title: "Acme", country: "NL"})``) — and returns them with
the map from each GraphQL field name back to its property (``SpecInputs.spec``). The mapping
mirrors the output types of ``catalog.typegen`` (same helpers, same names, same fallbacks), so
a field reads and writes alike (where typegen types more — ``allOf`` "extends", the
``Money``/``Decimal``/``DateTime`` scalars — the input is the plain shape or ``JSON``, and the
write path's validation does the rest):

* scalars: ``string`` → ``String``, ``boolean`` → ``Boolean``, ``number`` → ``Float``,
  ``integer`` → ``Int`` within 32 bits else ``Float`` (whole floats reach the spec as
  integers, so ``5`` is written ``5``, not ``5.0``); enums of strings → an input enum
  ``<Name>Input`` whose values are the stored strings; ``const`` → its value's type;
* objects with ``properties`` → input objects ``<Name>Input`` (``$ref`` ones shared:
  ``ProductMoneyInput``); arrays → lists; anything typegen serves as ``JSON`` (maps,
  ``oneOf``/``anyOf``/``allOf`` shapes, no type, type lists) → ``JSON`` here too;
* a field is non-null when the property is required, has no ``default`` and does not allow
  null — so a client must give what the schema requires, and may leave out what has a default;
* property names GraphQL cannot carry are made valid (``typegen.field_name``); nested fields
  carry the property as ``out_name`` (the coerced input *is* the spec), top-level fields
  colliding with the mutation's own (``name``, ``labels``, ``message``, ...) get a ``spec``
  prefix (``specName``), then a numeric suffix.

Validation stays where it is: the spec built from the input goes through the same
``ManifestBuilder`` checks as ``applyManifests`` (the input types only shape it). A kind whose
inputs cannot be typed (a recursive chain of required objects, no properties at the top) gets
``spec: JSON!`` instead; ``input_problem`` says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLString,
    validate_schema,
)

from gitstore.domain.content import KindDefinition
from gitstore.domain.content.schemas import resolve

from ..catalog.types.names import enum_value_name, field_name, pascal
from ..catalog.types.shapes import fits_int32, json_type_of, types_of, untypable
from ..graphql.builder import SchemaBuilder
from ..graphql.lru import LRU
from ..graphql.scalars import json_type

_POINTER_SKIP = frozenset({"#", "$defs", "definitions", "properties", "items"})
Nullable = GraphQLScalarType | GraphQLEnumType | GraphQLInputObjectType | GraphQLList[Any]


@dataclass
class SpecInputs:
    """The flat spec fields of one kind's upsert input."""

    fields: dict[str, GraphQLInputField] = field(default_factory=dict)
    spec: dict[str, str] = field(default_factory=dict)  # GraphQL field → property

    def spec_of(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The spec an input gives (fields left out stay out; nested levels are already
        keyed by property through ``out_name``)."""
        return {prop: _plain(data[name]) for name, prop in self.spec.items() if name in data}

    def input_field(self, prop: str) -> str:
        """The input field a spec property came from (for ``userErrors``)."""
        for name, candidate in self.spec.items():
            if candidate == prop:
                return name
        return prop


def spec_inputs(definition: KindDefinition, builder: SchemaBuilder, taken: set[str]) -> SpecInputs:
    """Type the hub schema's top-level properties, avoiding the names in ``taken``."""
    return _KindInputs(definition, builder).top(taken)


def input_problem(definition: KindDefinition, reserved: set[str]) -> str | None:
    """Why ``definition``'s spec cannot be typed as input (None: it can), tried on its own in
    a scratch schema. Memoised by the kind, its hub version and schema (canonical JSON) and
    ``reserved``: every build of every repository asks again for the same built-ins."""
    try:
        schema_text = json.dumps(definition.hub.schema, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return _input_problem(definition, reserved)
    key = f"{definition.kind}\n{definition.hub_api_version}\n{sorted(reserved)}\n{schema_text}"
    known = _PROBLEMS.get(key)
    if known is None:
        known = _input_problem(definition, reserved) or ""
        _PROBLEMS.put(key, known)
    return known or None


_PROBLEMS: LRU[str, str] = LRU(1024)  # key → problem ("" for none)


def _input_problem(definition: KindDefinition, reserved: set[str]) -> str | None:
    scratch = SchemaBuilder()
    try:
        root = resolve(definition.hub.schema, definition.hub.schema)
        properties = root.get("properties")
        if not isinstance(properties, Mapping) or not properties:
            return "its schema has no top-level properties"
        if isinstance(root.get("additionalProperties"), Mapping) or "patternProperties" in root:
            return "its spec is a map (additionalProperties/patternProperties)"
        typed = spec_inputs(definition, scratch, set(reserved))
        probe = scratch.add_type(GraphQLInputObjectType("Probe", typed.fields))
        scratch.add_query_field(
            "probe", GraphQLField(GraphQLString, args={"input": GraphQLArgument(probe)})
        )
        schema = scratch.build()
    except Exception as exc:  # noqa: BLE001 - any failure means "take the spec as JSON"
        return f"{type(exc).__name__}: {exc}"
    errors = validate_schema(schema)
    return "; ".join(e.message for e in errors) if errors else None


class _KindInputs:
    def __init__(self, definition: KindDefinition, builder: SchemaBuilder) -> None:
        self.kind = definition.kind
        self.builder = builder
        self.root: Mapping[str, Any] = definition.hub.schema
        self.json = json_type(builder)
        self.cache: dict[tuple[str, Any], Nullable] = {}

    def top(self, taken: set[str]) -> SpecInputs:
        made = SpecInputs()
        node = resolve(self.root, self.root)
        properties = node.get("properties")
        if not isinstance(properties, Mapping):
            return made
        required = _required(node)
        for prop, raw in properties.items():
            name = field_name(prop)
            if name in taken:
                name = "spec" + name[:1].upper() + name[1:]
            candidate, n = name, 1
            while candidate in taken:
                n += 1
                candidate = f"{name}_{n}"
            taken.add(candidate)
            made.fields[candidate] = self._field(prop, raw, self.kind, required, out=False)
            made.spec[candidate] = prop
        return made

    # ------------------------------------------------------------------ fields
    def _field(
        self, prop: str, raw: Any, parent: str, required: set[str], *, out: bool
    ) -> GraphQLInputField:
        sub = resolve(raw, self.root)
        base = self._input(raw, f"{parent}{pascal(prop)}")
        _, nullable = types_of(sub)
        non_null = prop in required and "default" not in sub and not nullable
        description = sub.get("description")
        kind: GraphQLInputType = GraphQLNonNull(base) if non_null else base
        return GraphQLInputField(
            kind,
            description=description if isinstance(description, str) else None,
            out_name=prop if out else None,
        )

    def _input(self, raw: Any, hint: str) -> Nullable:
        node = resolve(raw, self.root)
        name = self._ref_name(raw) or hint
        described = resolve({"$ref": raw["$ref"]}, self.root) if name != hint else node
        if not node or untypable(node) is not None:
            return self.json
        types, _ = types_of(node)
        enum = node.get("enum")
        if isinstance(enum, list) and all(isinstance(v, str) for v in enum if v is not None):
            strings = [v for v in enum if v is not None]
            if strings:
                return self._enum(self._key(raw), strings, name, described)
        if "const" in node and not types:
            types = {json_type_of(node["const"])}
        if len(types) != 1:
            return self.json
        (kind,) = types
        if kind == "string":
            return GraphQLString
        if kind == "boolean":
            return GraphQLBoolean
        if kind == "number":
            return GraphQLFloat
        if kind == "integer":
            return GraphQLInt if fits_int32(node) else GraphQLFloat
        if kind == "array":
            items = node.get("items")
            if not isinstance(items, Mapping):
                return GraphQLList(self.json)
            item = self._input(items, name)
            _, item_nullable = types_of(resolve(items, self.root))
            return GraphQLList(item if item_nullable else GraphQLNonNull(item))
        if kind == "object":
            properties = node.get("properties")
            if (
                not isinstance(properties, Mapping)
                or not properties
                or isinstance(node.get("additionalProperties"), Mapping)
                or "patternProperties" in node
            ):
                return self.json
            return self._object(self._key(raw), node, name, described)
        return self.json

    def _object(
        self, key: tuple[str, Any], node: Mapping[str, Any], name: str, described: Mapping[str, Any]
    ) -> Nullable:
        if key in self.cache:
            return self.cache[key]
        type_name = self._unique(f"{name}Input")
        fields: dict[str, GraphQLInputField] = {}
        description = described.get("description")
        made = self.builder.add_type(
            GraphQLInputObjectType(
                type_name,
                lambda: fields,
                description=description if isinstance(description, str) else None,
            )
        )
        self.cache[key] = made  # before the fields: recursive $refs find it
        required = _required(node)
        taken: set[str] = set()
        for prop, raw in node["properties"].items():
            field_ = field_name(prop)
            candidate, n = field_, 1
            while candidate in taken:
                n += 1
                candidate = f"{field_}_{n}"
            taken.add(candidate)
            fields[candidate] = self._field(
                prop, raw, type_name[: -len("Input")], required, out=True
            )
        return made

    def _enum(
        self, key: tuple[str, Any], values: list[str], name: str, node: Mapping[str, Any]
    ) -> Nullable:
        if key in self.cache:
            return self.cache[key]
        names = [enum_value_name(v) for v in values]
        if None in names or len(set(names)) != len(names):
            self.cache[key] = GraphQLString
            return GraphQLString
        description = node.get("description")
        made = self.builder.add_type(
            GraphQLEnumType(
                self._unique(f"{name}Input"),
                {n: GraphQLEnumValue(v) for n, v in zip(names, values, strict=True) if n},
                description=description if isinstance(description, str) else None,
            )
        )
        self.cache[key] = made
        return made

    # ------------------------------------------------------------------ naming
    def _key(self, raw: Any) -> tuple[str, Any]:
        if isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str):
            return ("ref", raw["$ref"])
        return ("inline", id(raw))

    def _ref_name(self, raw: Any) -> str | None:
        if not (isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str)):
            return None
        segments = [s for s in raw["$ref"].split("/") if s and s not in _POINTER_SKIP]
        return self.kind + "".join(pascal(s) for s in segments) if segments else None

    def _unique(self, name: str) -> str:
        candidate, n = name, 1
        while self.builder.has_type(candidate):
            n += 1
            candidate = f"{name[: -len('Input')]}{n}Input"
        return candidate


def _plain(value: Any) -> Any:
    """``value`` with whole floats as ints: an ``integer`` beyond 32 bits is a GraphQL
    ``Float`` (as on output), and ``5`` should reach the file as ``5``, not ``5.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _required(node: Mapping[str, Any]) -> set[str]:
    required = node.get("required")
    return {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()
