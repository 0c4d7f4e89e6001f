"""The control plane on store endpoints: status writes and watches for every kind.

A store endpoint (``/<namespace>/<repo>/graphql``) serves the resource store of its own
repository, the repository implied by the URL:

* the global ``ResourcesModule`` and ``WatchModule`` through ``bound.RepositoryBound``
  (:func:`control_modules`): ``resource(kind, name)``, ``resources(kind, labelSelector)``,
  ``updateResourceStatus``, ``updateResourceMetadata``, ``update<Kind>Status`` of the
  built-in kinds, ``watchResources(kind, resourceVersion, labelSelector)`` and
  ``watchProducts`` / ``watchCategories`` / ``watchCollections`` — the global resolvers, so
  access checks, the CONFLICT precondition and watch authorization are theirs;
* per custom kind of the repository (:class:`CustomControlModule`):
  ``update<Kind>Status(input: {name, resourceVersion, status})`` and
  ``watch<Plural>(resourceVersion, labelSelector)`` (``Brand`` with plural ``brands``:
  ``updateBrandStatus``, ``watchBrands``).

``status`` is ``JSON!``, validated by the status action against the hub version's
``statusSchema`` of the commit the resource store applied last (the message names the field,
e.g. ``status.stock``); a status schema is not typed as a GraphQL input: conditions and free
nested objects are the common case, and one validator answers for the global and the store
endpoints alike. The input's description lists the statusSchema's top-level properties.

Names: a kind whose ``Update<Kind>StatusInput``/``Payload`` type or ``update<Kind>Status``
field is taken (a kind named ``Resource`` meets ``updateResourceStatus``) gets no status
mutation, a kind whose ``watch<Plural>`` is taken gets no watch; the generic
``updateResourceStatus`` and ``watchResources`` still serve it. Both are listed in
``skipped`` with the reason, which ``schemaStatus.untyped`` reports.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.content import KindDefinition, KindRegistry

from ..catalog.types.generate import pascal
from ..context import context_of
from ..graphql.builder import SchemaBuilder, SchemaBuildError, SchemaModule
from ..graphql.info import ResolveInfo
from ..graphql.payloads import add_mutation
from ..graphql.resources import ResourcesModule
from ..graphql.scalars import json_type
from ..graphql.watch import WatchModule, _event, _fixed_kind
from ..resources import actions
from .bound import RepositoryBound

RESOURCE_OBJECT = "ResourceObject"
WATCH_EVENT = "ResourceWatchEvent"


def control_modules(registry: KindRegistry) -> tuple[list[SchemaModule], CustomControlModule]:
    """The platform's control-plane modules bound to the endpoint's repository (to come
    before the custom kinds' types) and the per-kind module (to come after them, wrapped in
    ``RepositoryBound``; returned bare so its ``skipped`` can be read after the build)."""
    custom = CustomControlModule(registry)
    return [RepositoryBound(ResourcesModule()), RepositoryBound(WatchModule())], custom


def status_field_name(definition: KindDefinition) -> str:
    return f"update{definition.kind}Status"


def watch_field_name(definition: KindDefinition) -> str:
    return f"watch{pascal(definition.plural)}"


class CustomControlModule:
    """``update<Kind>Status`` and ``watch<Plural>`` of the registry's custom kinds, served
    through ``RepositoryBound`` (``control_modules`` wraps it). Needs the types of the
    bound ``ResourcesModule`` and ``WatchModule`` of the same build."""

    name = "store-control"

    def __init__(self, registry: KindRegistry) -> None:
        self.registry = registry
        self.skipped: dict[str, str] = {}  # "<Kind> (<what>)" → why it is not served

    def contribute(self, builder: SchemaBuilder) -> None:
        resource = builder.get_type(RESOURCE_OBJECT)
        event = builder.get_type(WATCH_EVENT)
        assert isinstance(resource, GraphQLObjectType) and isinstance(event, GraphQLObjectType)
        json = json_type(builder)
        for definition in self.registry:
            if definition.builtin:
                continue  # served by the bound global modules
            self._status(builder, definition, resource, json)
            self._watch(builder, definition, event)

    def _status(
        self, builder: SchemaBuilder, definition: KindDefinition, resource: Any, json: Any
    ) -> None:
        kind, field = definition.kind, status_field_name(definition)
        base = field[:1].upper() + field[1:]
        taken = [n for n in (f"{base}Input", f"{base}Payload") if builder.has_type(n)]
        if taken:
            self.skipped[f"{kind} (no {field})"] = f"type name {', '.join(taken)} is taken"
            return
        nn_string = GraphQLNonNull(GraphQLString)
        try:
            add_mutation(
                builder,
                field,
                input_fields={
                    "repository": GraphQLInputField(nn_string),  # bound away
                    "name": GraphQLInputField(nn_string, description="metadata.name"),
                    "resourceVersion": GraphQLInputField(
                        nn_string, description="metadata.resourceVersion of the object read."
                    ),
                    "status": GraphQLInputField(
                        GraphQLNonNull(json), description=_status_description(definition)
                    ),
                },
                payload_fields={"resource": GraphQLField(resource)},
                resolve=_write_status(kind),
                description=f"Write the status of a {kind} (compare-and-set on"
                " resourceVersion: a stale one is CONFLICT and changes nothing).",
            )
        except SchemaBuildError as exc:  # the root field exists already
            self.skipped[f"{kind} (no {field})"] = str(exc)

    def _watch(self, builder: SchemaBuilder, definition: KindDefinition, event: Any) -> None:
        kind, field = definition.kind, watch_field_name(definition)
        try:
            builder.add_subscription_field(
                field,
                GraphQLField(
                    event,
                    {
                        "repository": GraphQLArgument(GraphQLNonNull(GraphQLString)),
                        "resourceVersion": GraphQLArgument(
                            GraphQLString,
                            description="Resume after this version; leave out to get ADDED"
                            " for every current object first.",
                        ),
                        "labelSelector": GraphQLArgument(
                            GraphQLString, description="Kubernetes label selector."
                        ),
                    },
                    resolve=_event,
                    subscribe=_fixed_kind(kind),
                    description=f"Watch this repository's {kind} resources.",
                ),
            )
        except SchemaBuildError as exc:
            self.skipped[f"{kind} (no {field})"] = str(exc)


def _status_description(definition: KindDefinition) -> str:
    schema = definition.hub.status_schema
    if not schema:
        return (
            f"The whole new status of the {definition.kind} (replaces the old; the kind"
            " declares no statusSchema: any JSON object)."
        )
    properties = schema.get("properties")
    listed = ", ".join(sorted(properties)) if isinstance(properties, dict) else ""
    return (
        f"The whole new status (replaces the old), validated against the {definition.kind}"
        " statusSchema" + (f" (properties: {listed})." if listed else ".")
    )


def _write_status(kind: str) -> Any:
    async def resolve(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
        ctx = context_of(info)
        resource = await actions.update_status(
            ctx.services,
            ctx.principal,  # the status scope is checked by the action
            data["repository"],
            kind,
            data["name"],
            data["resourceVersion"],
            data["status"],
        )
        return {"resource": resource}

    return resolve


__all__ = ["CustomControlModule", "control_modules"]
