"""GraphQL output types generated from a kind's JSON Schema, at schema build time.

``types_for_kind(definition, builder)`` turns the hub (storage) version of a
``KindDefinition`` into a GraphQL object type named after the kind (``Product``), adds it and
every nested type to ``builder`` and returns it. Built-in and custom kinds go through the same
function; it never raises on a schema that validated as a KindDefinition. The mapping is the
table in ``docs/conversion.md`` (*From JSON Schema to GraphQL types*); in short:

* **Envelope**: ``id name labels annotations version path spec resourceStatus``, then one
  field per top-level property (``name`` → ``specName``; ``resourceStatus`` is the
  controllers' status, docs/resources.md).
* **Scalars**: ``String``, ``Boolean``, ``Float``, ``Int`` (when bounds keep it within 32
  bits), ``DateTime`` (``format: date-time``), ``Decimal`` (``format: decimal``), the shared
  ``Money`` (``x-gitstore-type: Money``; ``scalars``).
* **Enums** of strings → GraphQL enums (``gold-plus`` → ``GOLD_PLUS``); unnameable or
  colliding values → ``String``. **Objects** → object types, **arrays** → lists, **$ref** →
  one named type per (alias-followed) target, recursion included. Nullable from ``required``,
  ``default``, ``type: [T, null]`` and ``oneOf: [{type: null}, T]``.
* ``allOf`` of plain object schemas ("extends") → one object type with all their properties.
* **JSON, with the reason appended to the field's description**: maps, objects without
  properties, combinators and conditionals that give shapes, tuples, several or no types,
  unfollowable or self-containing references (``shapes.untypable``). Constraint-only
  combinators are ignored.
* **Names** (``names``): ``<Kind><Def>`` for ``$defs``, ``<Parent><Field>`` inline,
  property names made valid deterministically; a collision is served with a numeric suffix
  and reported as a ``TypeProblem`` (kind, version, JSON pointer) in ``problems``.
* **Descriptions** and **deprecation** (``deprecatedFields`` of the hub, ``deprecated:
  true``) carry over; a shared ``$defs`` type carries its deprecations wherever it is used.

Resolvers read plain data: the top-level type reads a ``CatalogResource``, nested types read
the nested JSON dicts. Nothing here does I/O.
"""

from __future__ import annotations

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
from gitstore.domain.content.schemas import json_pointer, resolve
from gitstore.domain.resources.status_schema import storefront_fields

from ...graphql.builder import SchemaBuilder
from ...graphql.info import ResolveInfo
from ...graphql.scalars import json_type
from ...resources.catalog_status import status_resolver
from ..resources import CatalogResource
from .names import (
    FieldNames,
    TypeNames,
    TypeProblem,
    enum_value_name,
    field_name,
    pascal,
    pointer_token,
)
from .scalars import decimal_type, is_money_shape, money_type
from .shapes import (
    fits_int32,
    json_type_of,
    merged_all_of,
    null_branch,
    types_of,
    untypable,
)

__all__ = [
    "ENVELOPE_FIELDS",
    "TypeProblem",
    "enum_value_name",
    "field_name",
    "pascal",
    "types_for_kind",
]

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
RESERVED_SUFFIXES = ("Connection", "Edge", "Filter", "Input")
SPECIAL_TYPES = ("Money", "Decimal", "DateTime")

_POINTER_SKIP = frozenset({"#", "$defs", "definitions", "properties", "items"})

Key = tuple[str, Any]
Nullable = GraphQLScalarType | GraphQLObjectType | GraphQLEnumType | GraphQLList[Any]
Typed = tuple[Nullable, str | None]  # the type, and why it is less precise than the schema
ROOT: Key = ("root", None)


def types_for_kind(
    definition: KindDefinition,
    builder: SchemaBuilder,
    overrides: Mapping[str, GraphQLField] | None = None,
    problems: list[TypeProblem] | None = None,
) -> GraphQLObjectType:
    """The GraphQL object type of ``definition``'s hub version (added to ``builder`` with
    every nested type; see the module docstring for the mapping). ``overrides``: fields that
    replace generated fields of the same name (ones the schema does not generate are left
    out), for a value the API works out rather than reads from the spec. Name collisions are
    appended to ``problems``."""
    found = problems if problems is not None else []
    return _KindTypes(definition, builder, found).build(overrides or {})


def _spec_of(source: Any) -> Any:
    return source.spec if isinstance(source, CatalogResource) else source


def _getter(key: str, default: Any, top: bool) -> Callable[[Any, ResolveInfo], Any]:
    def resolve_field(source: Any, _info: ResolveInfo) -> Any:
        data = _spec_of(source) if top else source
        if not isinstance(data, Mapping):
            return None
        return data.get(key, default)

    return resolve_field


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _with_note(description: str | None, note: str | None) -> str | None:
    if note is None:
        return description
    return f"{description}\n\n{note}" if description else note


class _KindTypes:
    def __init__(
        self, definition: KindDefinition, builder: SchemaBuilder, problems: list[TypeProblem]
    ) -> None:
        self.definition = definition
        self.builder = builder
        self.kind = definition.kind
        self.root: Mapping[str, Any] = definition.hub.schema
        self.json = json_type(builder)
        self.cache: dict[Key, Typed] = {}
        self.active: set[str] = set()  # $refs being typed (non-object recursion guard)
        self.resolved: dict[int, Mapping[str, Any]] = {}  # id(part of root) → resolved
        reserved = frozenset({self.kind} | {self.kind + s for s in RESERVED_SUFFIXES})
        self.names = TypeNames(builder, self.kind, definition.hub.name, reserved, problems)
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
            taken = {name: "the envelope" for name in fields}
            fields.update(self._fields(node, ROOT, "#", self.kind, top=True, taken=taken))
        fields.update({name: f for name, f in overrides.items() if name in fields})
        return kind_type

    # ------------------------------------------------------------------ references
    def _resolve(self, raw: Any) -> Mapping[str, Any]:
        """``resolve(raw)``, memoised: ``raw`` must be a part of the kind's schema (which
        outlives this object, so ids are not reused)."""
        found = self.resolved.get(id(raw))
        if found is None:
            found = self.resolved[id(raw)] = resolve(raw, self.root)
        return found

    def _canonical_ref(self, raw: Any) -> str | None:
        """The ``$ref`` of ``raw``, followed through ``$defs`` that are only a ``$ref``."""
        if not (isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str)):
            return None
        ref: str = raw["$ref"]
        seen = {ref}
        while True:
            target = json_pointer(self.root, ref)
            if not (isinstance(target, Mapping) and set(target) == {"$ref"}):
                return ref
            nxt = target["$ref"]
            if not isinstance(nxt, str) or nxt in seen:
                return ref
            seen.add(nxt)
            ref = nxt

    def _unwrap(self, raw: Any) -> tuple[Any, bool]:
        """``oneOf``/``anyOf`` of ``{type: null}`` and one schema → (that schema, nullable),
        through any depth of such wrappers."""
        nullable = False
        for _ in range(8):
            node = self._resolve(raw)
            if "type" in node:
                break
            branches = node.get("oneOf", node.get("anyOf"))
            if not (isinstance(branches, list) and len(branches) == 2):
                break
            rest = [b for b in branches if not null_branch(b)]
            if len(rest) != 1:
                break
            raw, nullable = rest[0], True
        return raw, nullable

    def _key(self, raw: Any) -> Key:
        ref = self._canonical_ref(raw)
        return ("ref", ref) if ref is not None else ("inline", id(raw))

    def _ref_name(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        segments = [s for s in ref.split("/") if s and s not in _POINTER_SKIP]
        return self.kind + "".join(pascal(s) for s in segments) if segments else None

    # ------------------------------------------------------------------ fields
    def _fields(
        self,
        node: Mapping[str, Any],
        key: Key,
        pointer: str,
        type_name: str,
        *,
        top: bool,
        taken: dict[str, str],
    ) -> dict[str, GraphQLField]:
        properties: Mapping[str, Any] = node["properties"]
        required = node.get("required")
        required_names = set(required) if isinstance(required, list) else set()
        names = FieldNames(self.names, taken)
        fields: dict[str, GraphQLField] = {}
        for prop, raw in properties.items():
            here = f"{pointer}/properties/{pointer_token(prop)}"
            name = field_name(prop)
            if top and name in ENVELOPE_FIELDS:
                name = "spec" + name[:1].upper() + name[1:]
            candidate = names.claim(name, here)
            sub = self._resolve(raw)
            inner, wrapped_null = self._unwrap(raw)
            base, note = self._output(raw, f"{type_name}{pascal(prop)}", here)
            default = sub.get("default")
            _, nullable = types_of(self._resolve(inner))
            nullable = nullable or wrapped_null or types_of(sub)[1]
            non_null = (prop in required_names or default is not None) and not nullable
            output = GraphQLNonNull(base) if non_null else base
            reason = self.deprecations.get((key, prop))
            if reason is None and sub.get("deprecated") is True:
                reason = "Deprecated in the kind's schema."
            fields[candidate] = GraphQLField(
                output,
                resolve=_getter(prop, default, top),
                description=_with_note(_text(sub.get("description")), note),
                deprecation_reason=reason,
            )
        return fields

    # ------------------------------------------------------------------ types
    def _output(self, raw: Any, hint: str, pointer: str) -> Typed:
        """The (nullable) output type of the schema ``raw`` at ``pointer``, and a note when
        it is less precise than the schema; ``hint`` names new types."""
        raw, _ = self._unwrap(raw)
        ref = self._canonical_ref(raw)
        if ref is not None:
            if ref in self.active and ("ref", ref) not in self.cache:
                return self.json, "Served as JSON: it refers to itself without an object."
            self.active.add(ref)
            try:
                return self._named(raw, ref, hint)
            finally:
                self.active.discard(ref)
        return self._shape(raw, self._resolve(raw), hint, pointer, self._resolve(raw))

    def _named(self, raw: Any, ref: str, hint: str) -> Typed:
        node = self._resolve(raw)
        if json_pointer(self.root, ref) is None or set(node) == {"$ref"}:
            return self.json, f"Served as JSON: reference {ref} cannot be followed."
        # A named ($ref) type is described by its definition, not by the field using it.
        described = self._resolve(json_pointer(self.root, ref))
        return self._shape(raw, node, self._ref_name(ref) or hint, ref, described)

    def _shape(
        self,
        raw: Any,
        node: Mapping[str, Any],
        name: str,
        pointer: str,
        described: Mapping[str, Any],
    ) -> Typed:
        special = node.get("x-gitstore-type")
        if special is not None and special not in SPECIAL_TYPES:
            self.names.report(
                pointer,
                f"x-gitstore-type {special!r} is not one of {', '.join(SPECIAL_TYPES)}; "
                "the schema is typed from its shape",
            )
        if special == "Money":
            if is_money_shape(node):
                return money_type(self.builder), None
            self.names.report(
                pointer,
                "x-gitstore-type Money needs an object with properties amount and currency; "
                "the schema is typed from its shape",
            )
        merged = merged_all_of(node, lambda part: resolve(part, self.root))
        if merged is not None:  # "extends": one object type with every branch's properties
            return self._object_or_map(raw, merged, name, pointer, described)
        why = untypable(node)
        if why is not None:
            return self.json, f"Served as JSON: {why}."
        types, _ = types_of(node)
        enum = node.get("enum")
        if isinstance(enum, list):
            values = [v for v in enum if v is not None]
            if values and all(isinstance(v, str) for v in values):
                return self._enum(self._key(raw), values, name, described, pointer)
            if not types and values:
                types = {json_type_of(v) for v in values}
        if "const" in node and not types:
            types = {json_type_of(node["const"])}
        if not node:
            return self.json, "Served as JSON: any value is allowed."
        if not types:
            return self.json, "Served as JSON: the schema gives no type."
        if len(types) != 1:
            return (
                self.json,
                f"Served as JSON: it allows several types ({', '.join(sorted(types))}).",
            )
        (kind,) = types
        if kind == "string":
            fmt = node.get("format")
            if fmt == "date-time" or special == "DateTime":
                return self.builder.datetime, None
            if fmt == "decimal" or special == "Decimal":
                return decimal_type(self.builder), None
            return GraphQLString, None
        if kind == "boolean":
            return GraphQLBoolean, None
        if kind == "number":
            return GraphQLFloat, None
        if kind == "integer":
            return (GraphQLInt if fits_int32(node) else GraphQLFloat), None
        if kind == "array":
            return self._array(node, name, pointer)
        if kind == "object":
            return self._object_or_map(raw, node, name, pointer, described)
        return self.json, f"Served as JSON: type {kind!r} has no GraphQL counterpart."

    def _array(self, node: Mapping[str, Any], name: str, pointer: str) -> Typed:
        items = node.get("items")
        if not isinstance(items, Mapping):
            return GraphQLList(self.json), None
        item, note = self._output(items, name, f"{pointer}/items")
        inner, wrapped_null = self._unwrap(items)
        _, item_nullable = types_of(self._resolve(inner))
        item_nullable = item_nullable or wrapped_null or types_of(self._resolve(items))[1]
        wrapped = item if item_nullable else GraphQLNonNull(item)
        return GraphQLList(wrapped), (f"Items: {note}" if note else None)

    def _object_or_map(
        self,
        raw: Any,
        node: Mapping[str, Any],
        name: str,
        pointer: str,
        described: Mapping[str, Any],
    ) -> Typed:
        properties = node.get("properties")
        if isinstance(node.get("additionalProperties"), Mapping) or "patternProperties" in node:
            return self.json, "Served as JSON: a map (additionalProperties/patternProperties)."
        if not isinstance(properties, Mapping) or not properties:
            return self.json, "Served as JSON: an object without declared properties."
        key = self._key(raw)
        if key in self.cache:
            return self.cache[key]
        type_name = self.names.claim(name, pointer)
        fields: dict[str, GraphQLField] = {}
        object_type = self.builder.add_type(
            GraphQLObjectType(
                type_name, lambda: fields, description=_text(described.get("description"))
            )
        )
        self.cache[key] = (object_type, None)  # before the fields: recursive $refs find it
        fields.update(self._fields(node, key, pointer, type_name, top=False, taken={}))
        return object_type, None

    def _enum(
        self,
        key: Key,
        values: list[str],
        name: str,
        node: Mapping[str, Any],
        pointer: str,
    ) -> Typed:
        if key in self.cache:
            return self.cache[key]
        names: dict[str, str] = {}
        note = None
        for value in values:
            value_name = enum_value_name(value)
            if value_name is None:
                note = f"Served as String: enum value {value!r} gives no GraphQL name."
                break
            if value_name in names:
                note = (
                    f"Served as String: enum values {names[value_name]!r} and {value!r} "
                    f"both give the GraphQL name {value_name}."
                )
                break
            names[value_name] = value
        if note is not None:
            self.cache[key] = (GraphQLString, note)
            return self.cache[key]
        enum_type = self.builder.add_type(
            GraphQLEnumType(
                self.names.claim(name, pointer),
                {n: GraphQLEnumValue(v) for n, v in names.items()},
                description=_text(node.get("description")),
            )
        )
        self.cache[key] = (enum_type, None)
        return self.cache[key]

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
                raw, _ = self._unwrap(properties[prop])
                key, node = self._key(raw), resolve(raw, self.root)
                if segment.endswith("[]"):
                    raw, _ = self._unwrap(node.get("items"))
                    key, node = self._key(raw), resolve(raw, self.root)
        return found


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
