"""GraphQL output types generated from a kind's JSON Schema, at schema build time.

``types_for_kind(definition, builder)`` turns the hub (storage) version of a
``KindDefinition`` into a GraphQL object type named after the kind (``Product``), adds it and
every nested type to ``builder`` and returns it. Built-in and custom kinds go through the same
function. The mapping, chosen to be predictable for any schema a merchant writes:

* **Envelope** (every resource type): ``id: ID!`` (catalogue global id, see ``ids``),
  ``name: String!``, ``labels: JSON!``, ``annotations: JSON!``, ``version: String!`` (the
  commit SHA stamped on the KV document), ``path: String`` (file in the repository),
  ``spec: JSON!`` (the whole spec); then one field per top-level spec property.
* **Scalars**: ``string`` → ``String`` (decimal amounts are strings and stay ``String``),
  ``boolean`` → ``Boolean``, ``number`` → ``Float``, ``integer`` → ``Int`` when the schema's
  ``minimum``/``maximum`` keep it within 32 bits, else ``Float`` (exact up to 2**53).
  A ``type`` list with ``null`` is the other type, nullable; any other list → ``JSON``.
* **Enums**: an ``enum`` of strings → a GraphQL enum whose value names are the strings in
  UPPER_SNAKE_CASE (``draft`` → ``DRAFT``, ``compareAtPrice`` → ``COMPARE_AT_PRICE``,
  ``a-b`` → ``A_B``, a leading digit gets ``_``); the stored strings stay the values. If two
  strings give the same name (``a-b`` and ``a_b``) the field is a plain ``String``. Enums of
  other values map by their ``type``.
* **Objects** with ``properties`` → object types; ``array`` → a list (items non-null unless
  they allow null); objects without properties, maps (``additionalProperties`` or
  ``patternProperties`` given as a schema), ``oneOf``/``anyOf``/``allOf`` that give
  alternative shapes, and anything without a type → the ``JSON`` scalar. Constraint-only
  combinators (``oneOf: [{required: [products]}, ...]``, ``if``/``then``) are ignored.
* **Names**: a ``$ref`` to ``#/$defs/money`` is the type ``<Kind>Money`` (one type however
  many fields use it: ``price`` and ``compareAtPrice`` share ``ProductMoney``); an inline
  object or enum is ``<Parent><Field>`` (``ProductStatus``); array items share the array
  field's name. Property names keep their spelling (camelCase); names GraphQL cannot carry
  are made valid deterministically (``pack size`` → ``packSize``, ``9lives`` → ``_9lives``,
  ``__x`` → ``_x``); top-level properties named like an envelope field get a ``spec`` prefix
  (``name`` → ``specName``; ``resourceStatus``, the controllers' status, too); remaining
  clashes (and type names taken by other modules, or
  reserved for ``<Kind>Connection``/``Edge``/``Filter``) get a numeric suffix (``_2``/``2``)
  in schema order.
* **Nullability**: a property is non-null when it is required or has a default, and its
  schema does not allow null. An absent property with a ``default`` resolves to the default
  (``status`` of a product without one is ``DRAFT``).
* **Descriptions** come from ``description``; **deprecation**: each ``deprecatedFields``
  entry of the hub version (``spec.logoUrl``, ``spec.variants[].price``) and any property
  with ``deprecated: true`` becomes ``@deprecated(reason:)`` on its field. A shared ``$defs``
  type carries the deprecation wherever it is used.

Resolvers read plain data: the top-level type reads a ``CatalogResource``, nested types read
the nested JSON dicts. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
)

from gitstore.domain.content import KindDefinition
from gitstore.domain.content.schemas import resolve
from gitstore.domain.resources.status_schema import storefront_fields

from ..graphql.builder import SchemaBuilder
from ..graphql.info import ResolveInfo
from ..graphql.scalars import json_type
from ..resources.catalog_status import status_resolver
from .resources import CatalogResource

ENVELOPE_FIELDS = (
    "id",
    "name",
    "labels",
    "annotations",
    "version",
    "path",
    "spec",
    "resourceStatus",
)
RESERVED_SUFFIXES = ("Connection", "Edge", "Filter")
INT32 = (-(2**31), 2**31 - 1)

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_SHAPE_KEYS = frozenset(
    {"type", "properties", "items", "prefixItems", "$ref", "enum", "const", "additionalProperties"}
)
_POINTER_SKIP = frozenset({"#", "$defs", "definitions", "properties", "items"})

Key = tuple[str, Any]
Nullable = GraphQLScalarType | GraphQLObjectType | GraphQLEnumType | GraphQLList[Any]
ROOT: Key = ("root", None)


def field_name(name: str) -> str:
    """A valid GraphQL field name for property ``name`` (itself when it already is one)."""
    if _NAME.fullmatch(name) and not name.startswith("__"):
        return name
    parts = [p for p in re.split(r"[^0-9A-Za-z_]+", name) if p]
    if not parts:
        return "_"
    text = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    if text.startswith("__"):
        text = "_" + text.lstrip("_")
    if text[0].isdigit():
        text = "_" + text
    return text


def pascal(name: str) -> str:
    text = field_name(name)
    return text[:1].upper() + text[1:]


def enum_value_name(value: str) -> str | None:
    """``draft`` → ``DRAFT``, ``compareAtPrice`` → ``COMPARE_AT_PRICE``; None if nothing is
    left (e.g. ``"--"``)."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", value)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    if not text:
        return None
    return "_" + text if text[0].isdigit() else text


def types_for_kind(
    definition: KindDefinition,
    builder: SchemaBuilder,
    overrides: Mapping[str, GraphQLField] | None = None,
) -> GraphQLObjectType:
    """The GraphQL object type of ``definition``'s hub version (added to ``builder`` with
    every nested type; see the module docstring for the mapping). ``overrides``: fields that
    replace generated fields of the same name (ones the schema does not generate are left
    out), for a value the API works out rather than reads from the spec."""
    return _KindTypes(definition, builder).build(overrides or {})


def _types(node: Mapping[str, Any]) -> tuple[set[str], bool]:
    """(JSON types other than null, whether null is allowed)."""
    declared = node.get("type")
    if isinstance(declared, str):
        names = {declared}
    elif isinstance(declared, list):
        names = {t for t in declared if isinstance(t, str)}
    else:
        names = set()
        if "properties" in node:
            names.add("object")
        if "items" in node:
            names.add("array")
    enum = node.get("enum")
    nullable = "null" in names or (isinstance(enum, list) and None in enum)
    names.discard("null")
    return names, nullable


def _gives_shapes(node: Mapping[str, Any]) -> bool:
    """Whether ``oneOf``/``anyOf``/``allOf`` offer alternative or added shapes."""
    for keyword in ("oneOf", "anyOf", "allOf"):
        branches = node.get(keyword)
        if isinstance(branches, list) and any(
            isinstance(b, Mapping) and _SHAPE_KEYS & b.keys() for b in branches
        ):
            return True
    return False


def _fits_int32(node: Mapping[str, Any]) -> bool:
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    return numbers and INT32[0] <= low and high <= INT32[1]


def _spec_of(source: Any) -> Any:
    return source.spec if isinstance(source, CatalogResource) else source


def _getter(key: str, default: Any, top: bool) -> Callable[[Any, ResolveInfo], Any]:
    def resolve_field(source: Any, _info: ResolveInfo) -> Any:
        data = _spec_of(source) if top else source
        if not isinstance(data, Mapping):
            return None
        return data.get(key, default)

    return resolve_field


class _KindTypes:
    def __init__(self, definition: KindDefinition, builder: SchemaBuilder) -> None:
        self.definition = definition
        self.builder = builder
        self.kind = definition.kind
        self.root: Mapping[str, Any] = definition.hub.schema
        self.json = json_type(builder)
        self.cache: dict[Key, Nullable] = {}
        self.made: set[str] = {self.kind} | {self.kind + s for s in RESERVED_SUFFIXES}
        self.deprecations = self._deprecations()

    # ------------------------------------------------------------------ entry
    def build(self, overrides: Mapping[str, GraphQLField]) -> GraphQLObjectType:
        fields: dict[str, GraphQLField] = {}
        description = self.definition.description or f"A {self.kind} of the catalogue."
        kind_type = self.builder.add_type(
            GraphQLObjectType(self.kind, lambda: fields, description=description)
        )
        fields.update(_envelope(self.json))
        fields["resourceStatus"] = GraphQLField(
            self.json,
            resolve=status_resolver(storefront_fields(self.definition.hub.status_schema)),
            description="The status controllers report (docs/resources.md); storefronts see"
            " only the fields the kind marks x-gitstore-storefront.",
        )
        node = resolve(self.root, self.root)
        if isinstance(node.get("properties"), Mapping):
            fields.update(self._fields(node, ROOT, self.kind, top=True, taken=set(fields)))
        fields.update({name: f for name, f in overrides.items() if name in fields})
        return kind_type

    # ------------------------------------------------------------------ naming
    def _key(self, raw: Any) -> Key:
        if isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str):
            return ("ref", raw["$ref"])
        return ("inline", id(raw))

    def _ref_name(self, raw: Any) -> str | None:
        if not (isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str)):
            return None
        segments = [s for s in raw["$ref"].split("/") if s and s not in _POINTER_SKIP]
        return self.kind + "".join(pascal(s) for s in segments) if segments else None

    def _unique_type_name(self, name: str) -> str:
        candidate, n = name, 1
        while candidate in self.made or self.builder.has_type(candidate):
            n += 1
            candidate = f"{name}{n}"
        self.made.add(candidate)
        return candidate

    # ------------------------------------------------------------------ fields
    def _fields(
        self, node: Mapping[str, Any], key: Key, type_name: str, *, top: bool, taken: set[str]
    ) -> dict[str, GraphQLField]:
        properties: Mapping[str, Any] = node["properties"]
        required = node.get("required")
        required_names = set(required) if isinstance(required, list) else set()
        fields: dict[str, GraphQLField] = {}
        for prop, raw in properties.items():
            name = field_name(prop)
            if top and name in ENVELOPE_FIELDS:
                name = "spec" + name[:1].upper() + name[1:]
            candidate, n = name, 1
            while candidate in taken:
                n += 1
                candidate = f"{name}_{n}"
            taken.add(candidate)
            sub = resolve(raw, self.root)
            base = self._output(raw, f"{type_name}{pascal(prop)}")
            default = sub.get("default")
            _, nullable = _types(sub)
            non_null = (prop in required_names or default is not None) and not nullable
            output = GraphQLNonNull(base) if non_null else base
            reason = self.deprecations.get((key, prop))
            if reason is None and sub.get("deprecated") is True:
                reason = "Deprecated in the kind's schema."
            description = sub.get("description")
            fields[candidate] = GraphQLField(
                output,
                resolve=_getter(prop, default, top),
                description=description if isinstance(description, str) else None,
                deprecation_reason=reason,
            )
        return fields

    # ------------------------------------------------------------------ types
    def _output(self, raw: Any, hint: str) -> Nullable:
        """The (nullable) output type of the schema ``raw``; ``hint`` names new types."""
        node = resolve(raw, self.root)
        name = self._ref_name(raw) or hint
        # A named ($ref) type is described by its definition, not by the field using it.
        described = resolve({"$ref": raw["$ref"]}, self.root) if name != hint else node
        if not node or _gives_shapes(node):
            return self.json
        types, _ = _types(node)
        enum = node.get("enum")
        if isinstance(enum, list) and all(isinstance(v, str) for v in enum if v is not None):
            strings = [v for v in enum if v is not None]
            if strings:
                return self._enum(self._key(raw), strings, name, described)
        if "const" in node and not types:
            types = {_json_type_of(node["const"])}
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
            return GraphQLInt if _fits_int32(node) else GraphQLFloat
        if kind == "array":
            items = node.get("items")
            if not isinstance(items, Mapping):
                return GraphQLList(self.json)
            item = self._output(items, name)
            _, item_nullable = _types(resolve(items, self.root))
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
        self, key: Key, node: Mapping[str, Any], name: str, described: Mapping[str, Any]
    ) -> Nullable:
        if key in self.cache:
            return self.cache[key]
        type_name = self._unique_type_name(name)
        fields: dict[str, GraphQLField] = {}
        description = described.get("description")
        object_type = self.builder.add_type(
            GraphQLObjectType(
                type_name,
                lambda: fields,
                description=description if isinstance(description, str) else None,
            )
        )
        self.cache[key] = object_type  # before the fields: recursive $refs find it
        fields.update(self._fields(node, key, type_name, top=False, taken=set()))
        return object_type

    def _enum(self, key: Key, values: list[str], name: str, node: Mapping[str, Any]) -> Nullable:
        if key in self.cache:
            return self.cache[key]
        names = [enum_value_name(v) for v in values]
        if None in names or len(set(names)) != len(names):
            self.cache[key] = GraphQLString
            return GraphQLString
        description = node.get("description")
        enum_type = self.builder.add_type(
            GraphQLEnumType(
                self._unique_type_name(name),
                {n: GraphQLEnumValue(v) for n, v in zip(names, values, strict=True) if n},
                description=description if isinstance(description, str) else None,
            )
        )
        self.cache[key] = enum_type
        return enum_type

    # ------------------------------------------------------------------ deprecations
    def _deprecations(self) -> dict[tuple[Key, str], str]:
        """(container key, property) → reason, for each ``deprecatedFields`` path."""
        found: dict[tuple[Key, str], str] = {}
        for deprecated in self.definition.hub.deprecated_fields:
            segments = deprecated.path.split(".")[1:]
            key, node = ROOT, resolve(self.root, self.root)
            for i, segment in enumerate(segments):
                prop = segment.removesuffix("[]")
                properties = node.get("properties")
                if not isinstance(properties, Mapping) or prop not in properties:
                    break
                if i == len(segments) - 1:
                    found[(key, prop)] = deprecated.reason
                    break
                raw = properties[prop]
                key, node = self._key(raw), resolve(raw, self.root)
                if segment.endswith("[]"):
                    raw = node.get("items")
                    key, node = self._key(raw), resolve(raw, self.root)
        return found


def _json_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "any"


def _envelope(json: Any) -> dict[str, GraphQLField]:
    def attr(name: str) -> Callable[[CatalogResource, ResolveInfo], Any]:
        return lambda resource, _info: getattr(resource, name)

    return {
        "id": GraphQLField(
            GraphQLNonNull(GraphQLID), resolve=attr("global_id"), description="Global ID."
        ),
        "name": GraphQLField(
            GraphQLNonNull(GraphQLString), resolve=attr("name"), description="metadata.name"
        ),
        "labels": GraphQLField(
            GraphQLNonNull(json), resolve=attr("labels"), description="metadata.labels"
        ),
        "annotations": GraphQLField(
            GraphQLNonNull(json), resolve=attr("annotations"), description="metadata.annotations"
        ),
        "version": GraphQLField(
            GraphQLNonNull(GraphQLString),
            resolve=attr("version"),
            description="The commit SHA of the projection that wrote this state.",
        ),
        "path": GraphQLField(
            GraphQLString, resolve=attr("path"), description="The manifest file in the repository."
        ),
        "spec": GraphQLField(
            GraphQLNonNull(json), resolve=attr("spec"), description="The whole spec, as JSON."
        ),
    }
