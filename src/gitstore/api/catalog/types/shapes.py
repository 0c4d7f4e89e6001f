"""What a JSON Schema node says about its GraphQL shape (helpers of ``generate``).

Pure functions over one schema node: its JSON types and nullability, whether combinators give
it shapes GraphQL cannot express as one type (and why), whether an integer fits ``Int``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
_SHAPE_KEYS = frozenset(
    {"type", "properties", "items", "prefixItems", "$ref", "enum", "const", "additionalProperties"}
)


def types_of(node: Mapping[str, Any]) -> tuple[set[str], bool]:
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
        if "items" in node or "prefixItems" in node:
            names.add("array")
    enum = node.get("enum")
    nullable = "null" in names or (isinstance(enum, list) and None in enum)
    names.discard("null")
    return names, nullable


def shaped(branch: Any) -> bool:
    return isinstance(branch, Mapping) and bool(_SHAPE_KEYS & branch.keys())


def untypable(node: Mapping[str, Any]) -> str | None:
    """Why ``node`` has no single GraphQL type (None: it has one, or none is needed)."""
    for keyword in ("oneOf", "anyOf", "allOf"):
        branches = node.get(keyword)
        if isinstance(branches, list) and any(shaped(b) for b in branches):
            return f"{keyword} gives alternative or combined shapes"
    if "if" in node and any(shaped(node.get(k)) for k in ("then", "else")):
        return "if/then/else changes its shape"
    dependent = node.get("dependentSchemas")
    if isinstance(dependent, Mapping) and any(shaped(b) for b in dependent.values()):
        return "dependentSchemas changes its shape"
    if "prefixItems" in node or isinstance(node.get("items"), list):
        return "it is a tuple (prefixItems)"
    return None


def null_branch(branch: Any) -> bool:
    return isinstance(branch, Mapping) and branch.get("type") == "null" and len(branch) == 1


def fits_int32(node: Mapping[str, Any]) -> bool:
    if node.get("format") == "int32":
        return True
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        values = [v for v in enum if v is not None]
        return all(isinstance(v, int) and INT32[0] <= v <= INT32[1] for v in values)
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    return numbers and INT32[0] <= low and high <= INT32[1]


def json_type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "any"


_NOT_PLAIN = frozenset(
    {"oneOf", "anyOf", "allOf", "if", "then", "else", "dependentSchemas", "patternProperties"}
    | {"items", "prefixItems", "enum", "const"}
)


def merged_all_of(node: Mapping[str, Any], resolve: Any) -> Mapping[str, Any] | None:
    """``allOf`` of object schemas (``{allOf: [{$ref: base}, {properties: {...}}]}``, the
    usual "extends") as one object schema: properties and ``required`` united. None when it
    is not that: a branch that is not a plain object, or one property given two schemas."""
    branches = node.get("allOf")
    if not isinstance(branches, list) or not any(shaped(b) for b in branches):
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in [{k: v for k, v in node.items() if k != "allOf"}, *branches]:
        resolved = resolve(part)
        if not shaped(resolved) and "required" not in resolved:
            continue  # a constraint-only branch
        names, _ = types_of(resolved)
        if names - {"object"} or _NOT_PLAIN & resolved.keys():
            return None
        if isinstance(resolved.get("additionalProperties"), Mapping):
            return None
        for name, schema in (resolved.get("properties") or {}).items():
            if properties.setdefault(name, schema) != schema:
                return None
        more = resolved.get("required")
        required.extend(r for r in more or () if isinstance(r, str) and r not in required)
    if not properties:
        return None
    merged = {k: v for k, v in node.items() if k != "allOf"}
    return {**merged, "type": "object", "properties": properties, "required": required}
