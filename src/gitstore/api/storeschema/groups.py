"""The custom kinds of one repository as GraphQL: one query root field per API group.

``CustomKindsModule(registry)`` contributes, for each ``group`` among the registry's custom
kinds, a root field named after the group (``acme.example`` → ``acmeExample``, made a valid
GraphQL name with ``typegen.field_name``) of an object type ``<Group>Kinds``
(``AcmeExampleKinds``) that holds, per kind, ``<plural>`` (a Relay connection ordered by name)
and ``<singular>(id:, name:)``; e.g. ``query { acmeExample { brand(name: "acme") { title } } }``.
The group field takes ``channel`` like ``catalog`` and opens the same ``CatalogView`` (access
check, KV scope), so custom reads follow the built-ins' rules and read only the KV projection
(documents of KV kind ``document_kind(kind)``, as the worker writes them).

Types come from the kind's hub JSON Schema through ``typegen.types_for_kind``, exactly like the
built-ins. A kind must never break the schema of its repository. ``StoreSchemas`` first
builds every kind straight into the schema (``isolate=False``: each typed once, the common
case); only if that candidate fails to build or validate is it built again with
``isolate=True``, where each kind is first typed in a scratch builder and validated on its
own; if that fails — or its type names are taken by the platform (a kind called
``PageInfo``) — the kind is served as a fallback type carrying only the envelope (``id name
labels annotations version path`` and ``spec: JSON!``) whose description gives the reason.
Built-in kinds stay under ``catalog`` (``CatalogReadsModule``). The module
contributes after the platform's modules, so every platform type name is known when the
kinds' names are handed out; collisions are collected in ``problems`` (``typegen``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    validate_schema,
)

from gitstore.backends.kv import Document
from gitstore.backends.kv.base import encode_cursor
from gitstore.domain.content import KindDefinition, KindRegistry
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.projection import document_kind

from ..catalog.access import Channel
from ..catalog.ids import decode_resource_id
from ..catalog.reads import CatalogReads, CatalogView
from ..catalog.resources import CatalogResource
from ..catalog.types.generate import TypeProblem, field_name, pascal, types_for_kind
from ..catalog.types.names import type_origin
from ..context import context_of
from ..graphql.builder import SchemaBuilder, SchemaBuildError
from ..graphql.catalog_reads import endpoint_repository
from ..graphql.info import ResolveInfo
from ..graphql.relay import Connection, check_first
from ..graphql.scalars import json_type
from .versions import add_version_fields

Resolver = Callable[..., Awaitable[Any]]


def group_field_name(group: str) -> str:
    """``acme.example`` → ``acmeExample``."""
    return field_name(group.replace(".", " ").replace("-", " "))


def typing_problem(definition: KindDefinition) -> str | None:
    """Why ``definition`` cannot be typed on its own (None: it can)."""
    scratch = SchemaBuilder()
    try:
        kind_type = types_for_kind(definition, scratch)
        scratch.connection(kind_type)
        scratch.add_query_field("probe", GraphQLField(kind_type))
        schema = scratch.build()
    except Exception as exc:  # noqa: BLE001 - any failure means "serve it as JSON"
        return f"{type(exc).__name__}: {exc}"
    errors = validate_schema(schema)
    return "; ".join(e.message for e in errors) if errors else None


class CustomKindsModule:
    name = "custom-kinds"

    def __init__(self, registry: KindRegistry, *, isolate: bool = True) -> None:
        self.registry = registry
        self.isolate = isolate  # check each kind in a scratch builder first
        self.fallbacks: dict[str, str] = {}  # kind → why it is served as JSON (last build)
        self.types: dict[str, GraphQLObjectType] = {}  # kind → its output type (last build)
        self.problems: list[TypeProblem] = []  # name collisions (last build)

    def contribute(self, builder: SchemaBuilder) -> None:
        self.fallbacks, self.problems, self.types = {}, [], {}
        by_group: dict[str, list[KindDefinition]] = {}
        for definition in self.registry:
            if not definition.builtin:
                by_group.setdefault(definition.group, []).append(definition)
        channel = builder.get_type("Channel")
        assert isinstance(channel, GraphQLEnumType)  # CatalogReadsModule's
        for group in sorted(by_group):
            fields: dict[str, GraphQLField] = {}
            for definition in sorted(by_group[group], key=lambda d: d.kind):
                kind_type = self.types[definition.kind] = self._kind_type(builder, definition)
                fields.update(_kind_fields(builder, definition, kind_type, taken=set(fields)))
            type_name = _free_type_name(builder, pascal(group_field_name(group)) + "Kinds")
            group_type = builder.add_type(
                GraphQLObjectType(
                    type_name,
                    fields,
                    description=f"The kinds of API group {group} in this repository, read "
                    "from the KV projection.",
                )
            )
            field = GraphQLField(
                GraphQLNonNull(group_type),
                args={"channel": GraphQLArgument(channel, default_value=Channel.LIVE)},
                resolve=_open_view,
                description=f"Resources of API group {group}. LIVE of a public repository is "
                "open to anyone; DRAFT and private repositories need read access.",
            )
            name, n = group_field_name(group), 1
            while True:
                candidate = name if n == 1 else f"{name}_{n}"
                try:
                    builder.add_query_field(candidate, field)
                    break
                except SchemaBuildError:
                    n += 1

    def _kind_type(self, builder: SchemaBuilder, definition: KindDefinition) -> GraphQLObjectType:
        kind = definition.kind
        taken = [n for n in (kind, f"{kind}Connection", f"{kind}Edge") if builder.has_type(n)]
        holders = sorted({type_origin(builder, n) or "the platform" for n in taken})
        reason = (
            f"type name {', '.join(taken)} is taken by {' and '.join(holders)}"
            if taken
            else typing_problem(definition)
            if self.isolate
            else None
        )
        if reason is None:
            typed = types_for_kind(definition, builder, problems=self.problems)
            add_version_fields(builder, definition, typed, typing_problem)
            return typed
        if taken:
            self.problems.append(
                TypeProblem(kind, definition.hub.name, "#", f"the kind's {reason}; rename the kind")
            )
        self.fallbacks[kind] = reason
        fallback = builder.add_type(
            GraphQLObjectType(
                _free_type_name(builder, kind if not taken else f"{kind}Resource"),
                _envelope(builder),
                description=f"A {kind} ({definition.hub_api_version}). Its schema could not "
                f"be turned into GraphQL types, so it is served as JSON (spec): {reason}",
            )
        )
        add_version_fields(builder, definition, fallback, typing_problem, typed=False)
        return fallback


def _free_type_name(builder: SchemaBuilder, name: str) -> str:
    candidate, n = name, 1
    while builder.has_type(candidate) or any(
        builder.has_type(candidate + s) for s in ("Connection", "Edge")
    ):
        n += 1
        candidate = f"{name}{n}"
    return candidate


def _envelope(builder: SchemaBuilder) -> dict[str, GraphQLField]:
    json = GraphQLNonNull(json_type(builder))

    def attr(name: str) -> Callable[[CatalogResource, ResolveInfo], Any]:
        return lambda resource, _info: getattr(resource, name)

    text = GraphQLNonNull(GraphQLString)
    return {
        "id": GraphQLField(GraphQLNonNull(GraphQLID), resolve=attr("global_id")),
        "name": GraphQLField(text, resolve=attr("name"), description="metadata.name"),
        "labels": GraphQLField(json, resolve=attr("labels")),
        "annotations": GraphQLField(json, resolve=attr("annotations")),
        "version": GraphQLField(text, resolve=attr("version")),
        "path": GraphQLField(GraphQLString, resolve=attr("path")),
        "spec": GraphQLField(json, resolve=attr("spec"), description="The whole spec."),
    }


def _kind_fields(
    builder: SchemaBuilder,
    definition: KindDefinition,
    kind_type: GraphQLObjectType,
    taken: set[str],
) -> dict[str, GraphQLField]:
    kind, kv_kind = definition.kind, document_kind(definition.kind)
    max_page = builder.max_page_size

    async def many(
        view: CatalogView, _info: ResolveInfo, first: int, after: str | None = None
    ) -> Connection[CatalogResource]:
        size = check_first(first, max_page_size=max_page)
        page = await view.kv.list_documents(view.scope, kv_kind, first=size, after=after)
        return Connection.of(
            [_resource(view, d) for d in page.items],
            _cursor,
            total_count=page.total_count,
            has_next_page=page.has_next_page,
            after=after,
        )

    async def one(
        view: CatalogView, _info: ResolveInfo, id: str | None = None, name: str | None = None
    ) -> CatalogResource | None:
        if (id is None) == (name is None):
            raise InvalidArgument(f"{kind} needs exactly one of id, name", field="name")
        if id is not None:
            rid = decode_resource_id(id, kind)
            if rid.repository != view.repository:
                raise InvalidArgument(
                    f"id {id!r} is not of repository {view.repository!r}", field="id"
                )
            name = rid.name
        assert name is not None
        document = await view.load(kv_kind, name)
        return _resource(view, document) if document is not None else None

    plural, singular = field_name(definition.plural), field_name(definition.names.singular)
    fields: dict[str, GraphQLField] = {}
    for wanted, field in (
        (
            plural,
            GraphQLField(
                GraphQLNonNull(builder.connection(kind_type)),
                args=builder.connection_args(),
                resolve=many,
                description=f"{kind} resources ordered by name.",
            ),
        ),
        (
            singular,
            GraphQLField(
                kind_type,
                args={
                    "id": GraphQLArgument(GraphQLID, description="Its global ID."),
                    "name": GraphQLArgument(GraphQLString, description="Its metadata.name."),
                },
                resolve=one,
                description=f"One {kind} by exactly one of id, name (null: none).",
            ),
        ),
    ):
        candidate, n = wanted, 1
        while candidate in taken or candidate in fields:
            n += 1
            candidate = f"{wanted}_{n}"
        fields[candidate] = field
    return fields


def _cursor(resource: CatalogResource) -> str:
    return encode_cursor(resource.name)


def _resource(view: CatalogView, document: Document) -> CatalogResource:
    return CatalogResource.from_document(view.repository, document)


async def _open_view(_root: Any, info: ResolveInfo, channel: Channel | None = None) -> CatalogView:
    ctx = context_of(info)
    services = ctx.services
    reads = CatalogReads(services.store, services.kv())
    return await reads.open(ctx.actor(), endpoint_repository(info, None), channel or Channel.LIVE)
