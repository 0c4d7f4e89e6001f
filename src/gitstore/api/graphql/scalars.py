"""Custom scalars shared by all schema modules.

``DateTime`` is an RFC 3339 timestamp in UTC with a ``Z`` suffix
(``2024-05-01T12:00:00.123456Z``). Output takes an aware ``datetime`` or an RFC 3339 string
with an offset (what a manifest's ``format: date-time`` field holds), normalised to UTC.
Input accepts any RFC 3339 timestamp with an offset; a timestamp without one is refused,
because guessing a time zone is how audit trails go wrong.

``JSON`` is any JSON value (object, array, string, number, boolean, null), passed through as
is: output serialises the Python value unchanged; input accepts any JSON variable value or
GraphQL literal (objects and lists recursively, enum literals as strings). Modules get the one
instance of a schema with :func:`json_type` (``builder.get_type("JSON")`` once it exists).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from graphql import (
    BooleanValueNode,
    EnumValueNode,
    FloatValueNode,
    GraphQLError,
    GraphQLScalarType,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)


def serialize_datetime(value: Any) -> str:
    if isinstance(value, str):  # a kind's ``format: date-time`` field holds the string
        value = parse_datetime(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise GraphQLError(f"DateTime cannot represent {value!r}: not an aware datetime")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise GraphQLError(f"DateTime must be a string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphQLError(f"DateTime {value!r} is not an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        raise GraphQLError(f"DateTime {value!r} needs a time zone offset (e.g. Z)")
    return parsed.astimezone(UTC)


def _parse_literal(node: ValueNode, _variables: Any = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("DateTime must be a string literal", node)
    return parse_datetime(node.value)


def make_datetime_scalar() -> GraphQLScalarType:
    return GraphQLScalarType(
        "DateTime",
        description="An RFC 3339 timestamp in UTC, e.g. 2024-05-01T12:00:00Z.",
        serialize=serialize_datetime,
        parse_value=parse_datetime,
        parse_literal=_parse_literal,
    )


def _json_literal(node: ValueNode, variables: Any = None) -> Any:
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    if isinstance(node, ListValueNode):
        return [_json_literal(item, variables) for item in node.values]
    if isinstance(node, ObjectValueNode):
        return {field.name.value: _json_literal(field.value, variables) for field in node.fields}
    if isinstance(node, VariableNode):
        return (variables or {}).get(node.name.value)
    raise GraphQLError("JSON cannot represent this literal", node)


def make_json_scalar() -> GraphQLScalarType:
    return GraphQLScalarType(
        "JSON",
        description="Any JSON value: object, array, string, number, boolean or null.",
        serialize=lambda value: value,
        parse_value=lambda value: value,
        parse_literal=_json_literal,
    )


class _Types(Protocol):
    def has_type(self, name: str) -> bool: ...
    def get_type(self, name: str) -> Any: ...
    def add_type(self, type_: Any) -> Any: ...


def json_type(builder: _Types) -> GraphQLScalarType:
    """The schema's one ``JSON`` scalar (added to ``builder`` by the first module asking)."""
    if builder.has_type("JSON"):
        existing = builder.get_type("JSON")
        if not isinstance(existing, GraphQLScalarType):
            raise TypeError("type JSON is taken by a type that is not a scalar")
        return existing
    made: GraphQLScalarType = builder.add_type(make_json_scalar())
    return made
