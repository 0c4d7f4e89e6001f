"""Custom scalars shared by all schema modules.

``DateTime`` is an RFC 3339 timestamp in UTC with a ``Z`` suffix
(``2024-05-01T12:00:00.123456Z``). Input accepts any RFC 3339 timestamp with an offset; a
timestamp without one is refused, because guessing a time zone is how audit trails go wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, StringValueNode, ValueNode


def serialize_datetime(value: Any) -> str:
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
