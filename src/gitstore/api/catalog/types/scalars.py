"""The shared scalar and object types a kind's schema can ask for: ``Decimal`` and ``Money``.

How a JSON Schema says so (see ``docs/conversion.md``):

* ``{"type": "string", "format": "decimal"}`` (or ``"x-gitstore-type": "Decimal"``) →
  ``Decimal``: an exact decimal number carried as a string (``"19.90"``; never a float, like
  amounts in manifests). Output is the stored string; a value that is not a decimal number is
  a field error naming it.
* an object schema with ``"x-gitstore-type": "Money"`` whose properties include ``amount``
  and ``currency`` (the shape of the built-ins' ``#/$defs/money``) → the one platform type
  ``Money { amount: Decimal!, currency: String! }``, shared by every kind of the schema.
* ``{"type": "string", "format": "date-time"}`` (or ``"x-gitstore-type": "DateTime"``) → the
  platform's ``DateTime`` (``graphql.scalars``), normalised to UTC.

``format`` stays an annotation for validation (it is not asserted): write a ``pattern`` when
pushes must refuse values that are not decimals or timestamps.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
    StringValueNode,
    ValueNode,
)

from ...graphql.builder import SchemaBuilder
from ...graphql.info import ResolveInfo


def _decimal_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise GraphQLError(f"Decimal cannot represent {value!r}: not a decimal string")
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise GraphQLError(f"Decimal cannot represent {value!r}: not a decimal number") from None
    if not parsed.is_finite():
        raise GraphQLError(f"Decimal cannot represent {value!r}: not a finite number")
    return value if isinstance(value, str) else str(value)


def _decimal_literal(node: ValueNode, _variables: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError('Decimal must be a string literal, e.g. "19.90"', node)
    return _decimal_text(node.value)


def _make_decimal() -> GraphQLScalarType:
    return GraphQLScalarType(
        "Decimal",
        description='An exact decimal number as a string, e.g. "19.90" (never a float).',
        serialize=_decimal_text,
        parse_value=_decimal_text,
        parse_literal=_decimal_literal,
    )


def decimal_type(builder: SchemaBuilder) -> GraphQLScalarType:
    """The schema's one ``Decimal`` scalar (added by the first kind asking)."""
    if builder.has_type("Decimal"):
        existing = builder.get_type("Decimal")
        assert isinstance(existing, GraphQLScalarType)
        return existing
    return builder.add_type(_make_decimal())


def _key(name: str) -> Any:
    def resolve(source: Any, _info: ResolveInfo) -> Any:
        return source.get(name) if isinstance(source, dict) else None

    return resolve


def money_type(builder: SchemaBuilder) -> GraphQLObjectType:
    """The schema's one ``Money`` object type (added by the first kind asking)."""
    if builder.has_type("Money"):
        existing = builder.get_type("Money")
        assert isinstance(existing, GraphQLObjectType)
        return existing
    decimal = decimal_type(builder)
    return builder.add_type(
        GraphQLObjectType(
            "Money",
            {
                "amount": GraphQLField(GraphQLNonNull(decimal), resolve=_key("amount")),
                "currency": GraphQLField(
                    GraphQLNonNull(GraphQLString),
                    resolve=_key("currency"),
                    description="ISO 4217 currency code, e.g. EUR.",
                ),
            },
            description="An exact amount of money in one currency "
            '(a schema with "x-gitstore-type": "Money").',
        )
    )


def is_money_shape(node: Any) -> bool:
    """Whether an ``x-gitstore-type: Money`` schema has the properties ``Money`` reads."""
    properties = node.get("properties") if isinstance(node, dict) else None
    return isinstance(properties, dict) and {"amount", "currency"} <= properties.keys()
