"""Field helpers shared by the schema modules.

* :func:`attr` — a resolver reading one attribute of the source object (for fields whose
  GraphQL name is not the Python one; same-named fields use graphql-core's default resolver).
* :func:`stamp_fields` — ``createdAt`` / ``createdBy`` / ``updatedAt`` / ``updatedBy`` of a
  metadata record (namespaces and repositories carry the same four stamps).
* :class:`ExtraFields` — fields that later modules add to one module's object type before the
  schema is built (``Namespace.repositories``, ``Catalog.*``). Kept per builder (weakly), so
  two schemas built side by side do not share additions; adding a field the type already has,
  or adding one twice, is a :class:`SchemaBuildError` naming the module.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from graphql import GraphQLField, GraphQLNonNull, GraphQLString

from .builder import SchemaBuilder, SchemaBuildError


def attr(name: str) -> Any:
    return lambda obj, _info: getattr(obj, name)


def stamp_fields(builder: SchemaBuilder) -> dict[str, GraphQLField]:
    when = GraphQLNonNull(builder.datetime)
    who = GraphQLNonNull(GraphQLString)
    return {
        "createdAt": GraphQLField(when, resolve=attr("created_at")),
        "createdBy": GraphQLField(who, resolve=attr("created_by")),
        "updatedAt": GraphQLField(when, resolve=attr("updated_at")),
        "updatedBy": GraphQLField(who, resolve=attr("updated_by")),
    }


class ExtraFields:
    """Additions to the object type ``type_name``, whose own fields are ``own``."""

    def __init__(self, type_name: str, own: frozenset[str]) -> None:
        self.type_name = type_name
        self.own = own
        self._by_builder: WeakKeyDictionary[SchemaBuilder, dict[str, GraphQLField]] = (
            WeakKeyDictionary()
        )

    def add(self, builder: SchemaBuilder, name: str, field: GraphQLField) -> None:
        extra = self._by_builder.setdefault(builder, {})
        if name in self.own or name in extra:
            raise SchemaBuildError(
                f"{self.type_name}.{name} is defined twice "
                f"(module {builder.module!r} adds it again)"
            )
        extra[name] = field

    def of(self, builder: SchemaBuilder) -> dict[str, GraphQLField]:
        """What other modules added for ``builder`` (so far)."""
        return self._by_builder.get(builder, {})
