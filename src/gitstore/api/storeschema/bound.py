"""Serve a module of the global ``/graphql`` on a store endpoint, its repository implied by the URL.

Global root fields name their repository: an argument ``repository: String!``
(``releases(repository:)``, ``resourceHistory(repository:, ...)``) or an input field of that
name (``applyManifests(input: {repository: ...})``). On ``/<namespace>/<repo>/graphql`` the
repository is the endpoint's, so ``RepositoryBound(module)`` lets ``module`` contribute to the
store schema through a builder that

* adds every input object type that has a ``repository`` field without that field (same name,
  same other fields; only types whose fields are given as a mapping, as every mutation input
  of the platform is — a thunk is never resolved early), and
* adds every root field without its ``repository`` argument, with a resolver that puts the
  endpoint's repository (``catalog_reads.endpoint_repository``) back — as the argument, or
  into each input that lost the field — before calling the module's own resolver (for a
  subscription field: its ``subscribe``, which opens the event stream; the per-event
  ``resolve`` gets no repository).

So the module's code runs unchanged (same access checks, validation, idempotency, userErrors,
audit), and a store client cannot name another repository. ``only`` limits the root fields
taken over (by name); the module's other fields are left out of the store schema.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Mapping
from typing import Any, cast

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
)

from ..graphql.builder import SchemaBuilder, SchemaModule
from ..graphql.catalog_reads import endpoint_repository
from ..graphql.info import ResolveInfo

REPOSITORY = "repository"


class RepositoryBound:
    def __init__(self, module: SchemaModule, *, only: Collection[str] | None = None) -> None:
        self.module = module
        self.name = f"{module.name} (repository bound)"
        self.only = frozenset(only) if only is not None else None

    def contribute(self, builder: SchemaBuilder) -> None:
        self.module.contribute(cast(SchemaBuilder, _Binding(builder, self.only)))


class _Binding:
    """A ``SchemaBuilder`` stand-in: root fields and input types pass through ``_bind``;
    everything else is the real builder's."""

    def __init__(self, builder: SchemaBuilder, only: frozenset[str] | None) -> None:
        self._builder = builder
        self._only = only
        self._stripped: dict[str, GraphQLInputObjectType] = {}  # name → without repository

    def __getattr__(self, name: str) -> Any:
        return getattr(self._builder, name)

    def add_type(self, type_: Any) -> Any:
        if _has_repository(type_):
            stripped = self._stripped.get(type_.name)
            if stripped is None:
                fields = {n: f for n, f in type_.fields.items() if n != REPOSITORY}
                stripped = GraphQLInputObjectType(type_.name, fields, description=type_.description)
                self._stripped[type_.name] = stripped
                self._builder.add_type(stripped)
            return type_  # the module keeps using its own object; fields point at ours
        return self._builder.add_type(type_)

    def add_query_field(self, name: str, field: GraphQLField) -> None:
        if self._only is None or name in self._only:
            self._builder.add_query_field(name, self._bind(field))

    def add_mutation_field(self, name: str, field: GraphQLField) -> None:
        if self._only is None or name in self._only:
            self._builder.add_mutation_field(name, self._bind(field))

    def add_subscription_field(self, name: str, field: GraphQLField) -> None:
        if self._only is None or name in self._only:
            self._builder.add_subscription_field(name, self._bind(field, subscription=True))

    def _bind(self, field: GraphQLField, *, subscription: bool = False) -> GraphQLField:
        drop_argument = REPOSITORY in field.args
        filled: list[str] = []  # arguments whose input lost its repository field
        args: dict[str, GraphQLArgument] = {}
        for arg_name, arg in field.args.items():
            if arg_name == REPOSITORY:
                continue
            named = _named(arg.type)
            stripped = self._stripped.get(named.name) if named is not None else None
            if stripped is None:
                args[arg_name] = arg
                continue
            if not _direct(arg.type):  # e.g. a list of such inputs: not a platform shape
                raise TypeError(f"argument {arg_name} holds {named} other than directly")
            filled.append(arg_name)
            arg_type: Any = GraphQLNonNull(stripped) if _non_null(arg.type) else stripped
            args[arg_name] = GraphQLArgument(
                arg_type, default_value=arg.default_value, description=arg.description
            )
        if not drop_argument and not filled:
            return field
        inner = field.subscribe if subscription else field.resolve
        assert inner is not None, "a root field taking a repository has a resolver"

        async def bound(root: Any, info: ResolveInfo, **kwargs: Any) -> Any:
            repository = endpoint_repository(info, None)
            if drop_argument:
                kwargs[REPOSITORY] = repository
            for arg_name in filled:
                if kwargs.get(arg_name) is not None:
                    kwargs[arg_name] = {**kwargs[arg_name], REPOSITORY: repository}
            result = inner(root, info, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return GraphQLField(
            field.type,
            args=args,
            resolve=field.resolve if subscription else bound,
            subscribe=bound if subscription else field.subscribe,
            description=field.description,
            deprecation_reason=field.deprecation_reason,
        )


def _has_repository(type_: Any) -> bool:
    """An input object type given its fields as a mapping (not a thunk: that must not be
    resolved before its module has filled it) with a ``repository`` field."""
    if not isinstance(type_, GraphQLInputObjectType):
        return False
    declared = vars(type_).get("_fields")
    return isinstance(declared, Mapping) and REPOSITORY in declared


def _non_null(type_: Any) -> bool:
    return isinstance(type_, GraphQLNonNull)


def _direct(type_: Any) -> bool:
    """``T`` or ``T!`` (no list)."""
    return isinstance(
        type_.of_type if isinstance(type_, GraphQLNonNull) else type_, GraphQLNamedType
    )


def _named(type_: Any) -> GraphQLNamedType | None:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_ if isinstance(type_, GraphQLNamedType) else None
