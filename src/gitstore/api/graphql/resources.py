"""The resources schema module (global ``/graphql``): list, get and the status subresource.

* ``resource(repository, kind, name): ResourceObject`` and
  ``resources(repository, kind, labelSelector, first, after): ResourceObjectList!`` — the
  list's ``resourceVersion`` is where a watch starts so that list + watch misses nothing
  (paginated lists: the first page's, carried by the cursor; ``domain.resources.paging``);
  ``ResourceObject.object`` is the whole object exactly as watch events carry it.
* ``updateResourceStatus(input: {repository, kind, name, resourceVersion, status})`` and, per
  built-in kind, ``update<Kind>Status(input: {repository, name, resourceVersion, status})``:
  a stale ``resourceVersion`` is the ``CONFLICT`` user error and nothing changes;
* ``updateResourceMetadata(input: {repository, kind, name, resourceVersion, finalizers,
  labels, annotations})``: the same, for metadata (controllers' finalizers).

Thin: resolvers call ``api.resources.actions`` (rights in ``api.resources.access``).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.resources.model import Resource
from gitstore.domain.resources.paging import MAX_PAGE, ResourcePage

from ..context import context_of
from ..resources import actions
from .builder import SchemaBuilder
from .fields import attr
from .info import ResolveInfo
from .payloads import add_mutation
from .scalars import json_type

CONFLICT = "CONFLICT"


class ResourcesModule:
    name = "resources"

    def contribute(self, builder: SchemaBuilder) -> None:
        builder.add_user_error_code(
            CONFLICT,
            "The resourceVersion given is not the stored one: read the object again, retry.",
        )
        json = json_type(builder)
        obj = builder.add_type(_object_type(builder, json))
        listing = builder.add_type(
            GraphQLObjectType(
                "ResourceObjectList",
                {
                    "items": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(obj))),
                        resolve=lambda r, _i: r.items,
                    ),
                    "resourceVersion": GraphQLField(
                        GraphQLNonNull(GraphQLString),
                        resolve=lambda r, _i: str(r.resource_version),
                        description="The repository's resourceVersion the list was read at"
                        " (for every page, the first page's): watch from here after the last"
                        " page to miss nothing.",
                    ),
                    "pageInfo": GraphQLField(
                        GraphQLNonNull(builder.page_info),
                        resolve=lambda r, _i: r,
                        description="hasNextPage / endCursor: pass endCursor as after.",
                    ),
                },
                description="Resources read consistently, with the version to watch from.",
            )
        )
        nn_string = GraphQLNonNull(GraphQLString)
        builder.add_query_field(
            "resource",
            GraphQLField(
                obj,
                args={
                    "repository": GraphQLArgument(nn_string),
                    "kind": GraphQLArgument(nn_string, description="e.g. Product"),
                    "name": GraphQLArgument(nn_string),
                },
                resolve=_resource,
                description="One resource of the control plane (spec from the default branch,"
                " status from controllers); null if there is none.",
            ),
        )
        builder.add_query_field(
            "resources",
            GraphQLField(
                GraphQLNonNull(listing),
                args={
                    "repository": GraphQLArgument(nn_string),
                    "kind": GraphQLArgument(GraphQLString, description="Omit for every kind."),
                    "labelSelector": GraphQLArgument(
                        GraphQLString, description="Equality-based: a=b,c!=d,e,!f"
                    ),
                    "first": GraphQLArgument(
                        GraphQLInt,
                        description=f"Page size (1..{MAX_PAGE}); omit with after for the"
                        " whole list in one snapshot.",
                    ),
                    "after": GraphQLArgument(
                        GraphQLString, description="pageInfo.endCursor of the previous page."
                    ),
                },
                resolve=_resources,
                description="Resources ordered by kind and name, and the resourceVersion to"
                " watch from (paginated: every page answers the first page's; docs/resources.md).",
            ),
        )
        common = {
            "repository": GraphQLInputField(nn_string),
            "name": GraphQLInputField(nn_string),
            "resourceVersion": GraphQLInputField(
                nn_string, description="metadata.resourceVersion of the object read."
            ),
            "status": GraphQLInputField(
                GraphQLNonNull(json), description="The whole new status (replaces the old)."
            ),
        }
        payload = {"resource": GraphQLField(obj)}
        add_mutation(
            builder,
            "updateResourceStatus",
            input_fields={**common, "kind": GraphQLInputField(nn_string)},
            payload_fields=payload,
            resolve=_update_status,
            description="Write the status of a resource (compare-and-set on resourceVersion).",
        )
        add_mutation(
            builder,
            "updateResourceMetadata",
            input_fields={
                "repository": GraphQLInputField(nn_string),
                "kind": GraphQLInputField(nn_string),
                "name": GraphQLInputField(nn_string),
                "resourceVersion": GraphQLInputField(nn_string),
                "finalizers": GraphQLInputField(
                    GraphQLList(nn_string), description="Replaces them; omit to keep."
                ),
                "labels": GraphQLInputField(json, description="Replaces them; omit to keep."),
                "annotations": GraphQLInputField(json, description="Replaces them; omit to keep."),
            },
            payload_fields={
                "resource": GraphQLField(
                    obj, description="After the write (its last state if it was removed)."
                )
            },
            resolve=_update_metadata,
            description="Replace finalizers, labels or annotations (compare-and-set on"
            " resourceVersion). Removing the last finalizer of a resource whose file was"
            " deleted removes it. Same right as status writes.",
        )
        for definition in KindRegistry.builtin():
            if definition.kind == "KindDefinition":
                continue
            add_mutation(
                builder,
                f"update{definition.kind}Status",
                input_fields=common,
                payload_fields=payload,
                resolve=_kind_status(definition.kind),
                description=f"Write the status of a {definition.kind} (compare-and-set on"
                " resourceVersion).",
            )


def _object_type(builder: SchemaBuilder, json: Any) -> GraphQLObjectType:
    nn_string = GraphQLNonNull(GraphQLString)
    return GraphQLObjectType(
        "ResourceObject",
        {
            "kind": GraphQLField(nn_string),
            "name": GraphQLField(nn_string),
            "apiVersion": GraphQLField(nn_string, resolve=attr("api_version")),
            "uid": GraphQLField(nn_string),
            "resourceVersion": GraphQLField(
                nn_string, resolve=lambda r, _i: str(r.resource_version)
            ),
            "generation": GraphQLField(GraphQLNonNull(GraphQLInt)),
            "labels": GraphQLField(GraphQLNonNull(json)),
            "annotations": GraphQLField(GraphQLNonNull(json)),
            "finalizers": GraphQLField(GraphQLNonNull(GraphQLList(nn_string))),
            "creationTimestamp": GraphQLField(
                GraphQLNonNull(builder.datetime), resolve=attr("creation_timestamp")
            ),
            "deletionTimestamp": GraphQLField(builder.datetime, resolve=attr("deletion_timestamp")),
            "spec": GraphQLField(GraphQLNonNull(json)),
            "status": GraphQLField(GraphQLNonNull(json)),
            "object": GraphQLField(
                GraphQLNonNull(json),
                resolve=lambda r, _i: r.to_object(),
                description="The whole object, as list and watch return it.",
            ),
        },
        description="A resource of the control plane: metadata, spec (hub form, from Git)"
        " and status (from controllers).",
    )


async def _resource(
    _root: Any, info: ResolveInfo, repository: str, kind: str, name: str
) -> Resource | None:
    ctx = context_of(info)
    return await actions.get_resource(ctx.services, ctx.actor(), repository, kind, name)


async def _resources(
    _root: Any,
    info: ResolveInfo,
    repository: str,
    kind: str | None = None,
    labelSelector: str | None = None,  # the GraphQL argument's name
    first: int | None = None,
    after: str | None = None,
) -> ResourcePage:
    ctx = context_of(info)
    return await actions.list_page(
        ctx.services, ctx.actor(), repository, kind, labelSelector, first, after
    )


async def _update_status(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    return await _write(info, data["kind"], data)


def _kind_status(kind: str) -> Any:
    async def resolve(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
        return await _write(info, kind, data)

    return resolve


async def _write(info: ResolveInfo, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    resource = await actions.update_status(
        ctx.services,
        ctx.principal,  # the status scope is checked by the action, not the write scope
        data["repository"],
        kind,
        data["name"],
        data["resourceVersion"],
        data["status"],
    )
    return {"resource": resource}


async def _update_metadata(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    resource = await actions.update_metadata(
        ctx.services,
        ctx.principal,
        data["repository"],
        data["kind"],
        data["name"],
        data["resourceVersion"],
        finalizers=data.get("finalizers"),
        labels=data.get("labels"),
        annotations=data.get("annotations"),
    )
    return {"resource": resource}
