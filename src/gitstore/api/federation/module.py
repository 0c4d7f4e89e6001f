"""``FederationModule``: the Federation v2 subgraph fields of a store endpoint's schema.

Contributed last (after the catalogue and the custom kinds), it makes each catalogue kind's
object type an entity — the built-ins ``Product``, ``Category``, ``Collection`` and every
custom kind of the repository, under the GraphQL type name its module gave it (``types``:
manifest kind -> type name, read when ``contribute`` runs) — keyed by ``id`` (the opaque
global id) and by ``name`` (``metadata.name``, unique within the repository), and adds what
the subgraph spec asks for::

    scalar _Any
    union _Entity = Product | Category | Collection | ...
    type _Service { sdl: String! }
    extend type Query { _service: _Service!  _entities(representations: [_Any!]!): [_Entity]! }

``_service.sdl`` is ``sdl.subgraph_sdl`` of the built schema (computed once per schema).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
    GraphQLUnionType,
    ValueNode,
    value_from_ast_untyped,
)

from gitstore.domain.content import KindRegistry

from ..catalog.resources import CatalogResource
from ..graphql.builder import SchemaBuilder, SchemaBuildError
from ..graphql.info import ResolveInfo
from .entities import KEY_FIELDS, resolve_entities
from .sdl import subgraph_sdl


def _parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


def _any_scalar() -> GraphQLScalarType:
    return GraphQLScalarType(
        "_Any",
        description="An entity representation: {__typename, id} or {__typename, name}.",
        serialize=lambda value: value,
        parse_value=lambda value: value,
        parse_literal=_parse_literal,
    )


class FederationModule:
    name = "federation"

    def __init__(
        self,
        registry: KindRegistry,
        types: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self.registry = registry
        self.types = types  # manifest kind -> GraphQL type name, where it is not the kind

    def entity_types(self, builder: SchemaBuilder) -> dict[str, str]:
        """Entity type name -> manifest kind: the kinds whose type has ``id`` and ``name``."""
        renamed = self.types()
        found: dict[str, str] = {}
        for definition in self.registry:
            type_name = renamed.get(definition.kind, definition.kind)
            if not builder.has_type(type_name):
                continue
            named = builder.get_type(type_name)
            if isinstance(named, GraphQLObjectType) and all(k in named.fields for k in KEY_FIELDS):
                found[type_name] = definition.kind
        return found

    def contribute(self, builder: SchemaBuilder) -> None:
        kinds = self.entity_types(builder)
        if not kinds:
            raise SchemaBuildError("federation: no catalogue kind to make an entity of")
        by_kind = {kind: type_name for type_name, kind in kinds.items()}
        keys = {type_name: KEY_FIELDS for type_name in kinds}
        members = [builder.get_type(name) for name in sorted(kinds)]

        def resolve_type(value: Any, _info: ResolveInfo, _abstract: Any) -> str | None:
            if isinstance(value, CatalogResource):
                return by_kind.get(value.kind)
            return None

        entity = builder.add_type(
            GraphQLUnionType(
                "_Entity",
                [m for m in members if isinstance(m, GraphQLObjectType)],
                resolve_type=resolve_type,
                description="Every type a gateway can fetch by key with _entities.",
            )
        )
        any_ = builder.add_type(_any_scalar())
        service = builder.add_type(
            GraphQLObjectType(
                "_Service",
                {
                    "sdl": GraphQLField(
                        GraphQLNonNull(GraphQLString),
                        resolve=lambda _s, info: subgraph_sdl(info.schema, keys),
                        description="This subgraph's schema with its federation directives.",
                    )
                },
            )
        )
        builder.add_query_field(
            "_service",
            GraphQLField(
                GraphQLNonNull(service),
                resolve=lambda _root, _info: {},
                description="The subgraph's SDL (Apollo Federation).",
            ),
        )

        async def entities(root: Any, info: ResolveInfo, representations: list[Any]) -> Any:
            return await resolve_entities(root, info, representations, kinds)

        builder.add_query_field(
            "_entities",
            GraphQLField(
                GraphQLNonNull(GraphQLList(entity)),
                args={
                    "representations": GraphQLArgument(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(any_)))
                    )
                },
                resolve=entities,
                description="Catalogue resources by key, in the order asked; null where none "
                "(LIVE channel, the access rules of catalog).",
            ),
        )
