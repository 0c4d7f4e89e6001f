"""Older served versions on a store endpoint: deprecated spoke fields and whole resources.

A custom kind's GraphQL type is its hub version (``groups``). ``add_version_fields`` adds,
for a kind with a Wasm hook, what readers of older versions need
(``domain.conversion.down`` decides *what*, ``downbatch`` runs the hook):

* **Spoke fields.** Each top-level property of an older served version that the hub does
  not have becomes a field of the hub type, ``@deprecated`` with its reason
  (``price: Offer_v1Price @deprecated(reason: "Use pricingMatrix")`` beside
  ``pricingMatrix``), resolved by converting the hub document down to that version. Their
  types come from that version's JSON Schema, typed by ``typegen`` as a type
  ``<Kind>_<version>`` (kind names cannot hold ``_``, so these never clash with a kind's
  types); a version that cannot be typed gives ``JSON`` fields. Spoke fields are always
  nullable, so a failing hook nulls that field alone.
* **Whole resources.** ``as<Version>`` (``asV1: Offer_v1``) is the resource as that
  version, typed, for each version that has spoke fields; ``asVersion(version: "v1")`` (any
  served version, by name or apiVersion, also on kinds served as JSON) is the whole
  manifest in that version as JSON: ``{apiVersion, kind, metadata, spec}``. The hub version
  needs no hook.

All conversions of one response share a per-request ``DownBatch`` (in ``ctx.cache``), so a
page of resources is one hook run per target version; results are cached process-wide
(``ApiServices.down_conversions``). A hook that fails gives a GraphQL error on that field
only — ``Offer a: field price could not be read in shop.example/v1: conversion hook
hooks/loop.wasm of kind Offer (from-hub v2 -> v1): ran out of fuel …; its stderr: …`` (code
``FAILED_PRECONDITION``, or ``UNAVAILABLE`` for a timeout or a busy pool) — and the other
fields resolve.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
)

from gitstore.domain.content import KindDefinition
from gitstore.domain.content.kinds import KindNames, KindVersion
from gitstore.domain.content.schemas import resolve
from gitstore.domain.conversion.down import SpokeField, served_version, spoke_fields
from gitstore.domain.conversion.downbatch import DownBatch, Wanted
from gitstore.domain.conversion.errors import HookFailed, HookModuleRefused
from gitstore.domain.errors import FailedPrecondition, RetryableError, Unavailable

from ..catalog.resources import CatalogResource
from ..catalog.types.generate import ENVELOPE_FIELDS, field_name, pascal, types_for_kind
from ..context import context_of
from ..graphql.builder import SchemaBuilder
from ..graphql.info import ResolveInfo
from ..graphql.scalars import json_type

BATCH = "storeschema.versions.batch"  # the ctx.cache key of the request's DownBatch

Problem = Callable[[KindDefinition], str | None]


def add_version_fields(
    builder: SchemaBuilder,
    definition: KindDefinition,
    kind_type: GraphQLObjectType,
    typing_problem: Problem,
    *,
    typed: bool = True,
) -> None:
    """Add spoke fields, ``as<Version>`` and ``asVersion`` to ``kind_type`` (built, not yet in
    a schema). ``typed`` False: the kind is served as JSON (only ``asVersion``);
    ``typing_problem`` says whether a version's schema can be typed on its own."""
    # types_for_kind filled the type's field thunk; graphql-core caches the resolved map
    # on first access, so fields added to it here are the type's fields.
    fields = kind_type.fields
    if typed:
        by_version: dict[str, list[SpokeField]] = {}
        for spoke in spoke_fields(definition):
            by_version.setdefault(spoke.version.name, []).append(spoke)
        for version in definition.versions:
            spokes = by_version.get(version.name)
            if spokes:
                _add_version(builder, definition, version, spokes, fields, typing_problem)
    fields[_free("asVersion", fields)] = GraphQLField(
        json_type(builder),
        args={
            "version": GraphQLArgument(
                GraphQLNonNull(GraphQLString),
                description="A served version: its name (v1) or apiVersion (group/v1).",
            )
        },
        resolve=_as_version(definition),
        description=f"The whole {definition.kind} as the given served version (converted "
        "from the hub by the kind's hook): {apiVersion, kind, metadata, spec}.",
    )


def _add_version(
    builder: SchemaBuilder,
    definition: KindDefinition,
    version: KindVersion,
    spokes: list[SpokeField],
    fields: dict[str, GraphQLField],
    typing_problem: Problem,
) -> None:
    version_type = _version_type(builder, definition, version, typing_problem)
    names = _field_names(version.schema)
    api_version = definition.api_version(version)
    for spoke in spokes:
        output: GraphQLOutputType = json_type(builder)
        description = None
        typed = version_type.fields.get(names.get(spoke.prop, "")) if version_type else None
        if typed is not None:
            output = typed.type.of_type if isinstance(typed.type, GraphQLNonNull) else typed.type
            description = typed.description
        wanted = field_name(spoke.prop)
        if wanted in ENVELOPE_FIELDS:
            wanted = "spec" + pascal(wanted)
        fields[_free(wanted, fields, f"_{version.name}")] = GraphQLField(
            output,
            resolve=_spoke_resolver(definition, version.name, spoke.prop),
            description=(description + "\n\n" if description else "")
            + f"From {api_version}: the hub document converted to {version.name}.",
            deprecation_reason=spoke.reason,
        )
    if version_type is not None:
        fields[_free("as" + pascal(version.name), fields)] = GraphQLField(
            version_type,
            resolve=_as_typed(definition, version),
            description=f"This {definition.kind} as {api_version} (converted from the hub).",
        )


def _version_type(
    builder: SchemaBuilder, definition: KindDefinition, version: KindVersion, problem: Problem
) -> GraphQLObjectType | None:
    name = f"{definition.kind}_{version.name}"
    derived = dataclasses.replace(
        definition,
        names=KindNames(name, f"{definition.plural}-{version.name}", f"{name}-one"),
        versions=(dataclasses.replace(version, storage=True),),
        description=f"A {definition.kind} as served in {definition.api_version(version)}.",
    )
    if builder.has_type(name) or problem(derived) is not None:
        return None
    return types_for_kind(derived, builder)


def _field_names(schema: Mapping[str, Any]) -> dict[str, str]:
    """property → its field name in a type made by ``types_for_kind`` (its naming rule)."""
    properties = resolve(schema, schema).get("properties")
    taken, names = set(ENVELOPE_FIELDS), {}
    for prop in properties if isinstance(properties, Mapping) else ():
        name = field_name(prop)
        if name in ENVELOPE_FIELDS:
            name = "spec" + name[:1].upper() + name[1:]
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate)
        names[prop] = candidate
    return names


def _free(name: str, fields: Mapping[str, Any], suffix: str = "") -> str:
    if name not in fields:
        return name
    candidate, n = name + suffix, 1
    while candidate in fields:
        n += 1
        candidate = f"{name}{suffix}_{n}"
    return candidate


# ---------------------------------------------------------------------- resolvers
async def _spec_in(
    info: ResolveInfo,
    definition: KindDefinition,
    version: str,
    resource: CatalogResource,
    what: str,
) -> dict[str, Any]:
    ctx = context_of(info)
    batch = ctx.cache.get(BATCH)
    if not isinstance(batch, DownBatch):
        batch = ctx.cache[BATCH] = ctx.services.down_conversions().batch()
    served = ctx.services.store_schemas.served_commit(resource.repository)
    commits = tuple(c for c in (served, resource.version) if c)
    wanted = Wanted(definition, version, resource.repository, resource.name, resource.spec, commits)
    try:
        return await batch.spec_in(wanted)
    except (HookFailed, HookModuleRefused, Unavailable) as error:  # Unavailable: timeout, busy
        message = (
            f"{definition.kind} {resource.name}: {what} could not be read in "
            f"{definition.group}/{version}: {error}"
        )
        if isinstance(error, RetryableError):
            raise Unavailable(message) from None
        raise FailedPrecondition(message) from None


def _spoke_resolver(definition: KindDefinition, version: str, prop: str) -> Any:
    async def resolve(resource: CatalogResource, info: ResolveInfo) -> Any:
        spec = await _spec_in(info, definition, version, resource, f"field {prop}")
        return spec.get(prop)

    return resolve


def _as_typed(definition: KindDefinition, version: KindVersion) -> Any:
    api_version = definition.api_version(version)

    async def resolve(resource: CatalogResource, info: ResolveInfo) -> CatalogResource:
        name = "as" + pascal(version.name)
        spec = await _spec_in(info, definition, version.name, resource, name)
        value = {**resource.value, "apiVersion": api_version, "spec": spec}
        return dataclasses.replace(resource, value=value)

    return resolve


def _as_version(definition: KindDefinition) -> Any:
    async def resolve(resource: CatalogResource, info: ResolveInfo, version: str) -> Any:
        target = served_version(definition, version)
        spec = await _spec_in(info, definition, target.name, resource, f"asVersion({version})")
        metadata = resource.value.get("metadata")
        return {
            "apiVersion": definition.api_version(target),
            "kind": definition.kind,
            "metadata": metadata if isinstance(metadata, dict) else {"name": resource.name},
            "spec": spec,
        }

    return resolve
