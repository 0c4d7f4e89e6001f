"""The namespaces schema module: ``namespaces``, ``namespace(by:)``, ``createNamespace``,
``updateNamespace``, ``deleteNamespace``, ``addNamespaceMember``, ``removeNamespaceMember``;
``Namespace`` is a Relay node (``gid://GitStore/Namespace/<uuid>``).

Thin by design: resolvers read input, call ``gitstore.api.namespaces`` and shape the result.
Reads are open to anonymous callers (namespaces are public names); ``members`` needs an
authenticated caller; mutations need one too (anonymous = HTTP 401).

Other modules add fields to ``Namespace`` with :func:`add_namespace_field` during their own
``contribute`` (the repositories module adds ``repositories``): the type's fields are a thunk
evaluated when the schema is built, so module order does not matter for such fields.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.backends.metadata.base import Membership, Namespace, Role, Tier
from gitstore.domain.errors import InvalidArgument

from ..context import context_of
from ..namespaces import paging
from ..namespaces.actions import NamespaceActions
from ..namespaces.members import MemberActions
from .builder import SchemaBuilder
from .fields import ExtraFields, attr, stamp_fields
from .info import ResolveInfo
from .payloads import add_mutation
from .relay import Connection, check_first, decode_global_id, encode_global_id

_EXTRA = ExtraFields(
    "Namespace",
    frozenset(
        {
            "id",
            "identifier",
            "displayName",
            "tier",
            "parentEnterpriseId",
            "parentEnterprise",
            "createdAt",
            "createdBy",
            "updatedAt",
            "updatedBy",
            "members",
        }
    ),
)


def add_namespace_field(builder: SchemaBuilder, name: str, field: GraphQLField) -> None:
    """Add ``Namespace.<name>`` from another module (before the schema is built)."""
    _EXTRA.add(builder, name, field)


class NamespacesModule:
    name = "namespaces"

    def contribute(self, builder: SchemaBuilder) -> None:
        tier = builder.add_type(
            GraphQLEnumType(
                "NamespaceTier",
                {
                    "USER": GraphQLEnumValue(Tier.USER, description="One person's space."),
                    "ORGANISATION": GraphQLEnumValue(
                        Tier.ORGANISATION, description="A team's space, with members."
                    ),
                    "ENTERPRISE": GraphQLEnumValue(
                        Tier.ENTERPRISE,
                        description="Groups organisations; owns no repositories (admins only).",
                    ),
                },
            )
        )
        role = builder.add_type(
            GraphQLEnumType(
                "NamespaceRole",
                {
                    "OWNER": GraphQLEnumValue(Role.OWNER, description="Everything, members too."),
                    "MAINTAINER": GraphQLEnumValue(
                        Role.MAINTAINER, description="Write, administer repositories, members."
                    ),
                    "WRITER": GraphQLEnumValue(Role.WRITER, description="Create and change."),
                    "READER": GraphQLEnumValue(Role.READER, description="Read private ones."),
                },
            )
        )
        member = builder.add_type(
            GraphQLObjectType(
                "NamespaceMember",
                {
                    "username": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "role": GraphQLField(GraphQLNonNull(role)),
                    "createdAt": GraphQLField(
                        GraphQLNonNull(builder.datetime), resolve=attr("created_at")
                    ),
                },
                description="A user's role in an ORGANISATION or ENTERPRISE namespace.",
            )
        )
        namespace = builder.add_type(_namespace_type(builder, tier, member))
        builder.register_node("Namespace", _fetch_node, [Namespace])
        by = builder.add_type(
            GraphQLInputObjectType(
                "NamespaceBy",
                {
                    "identifier": GraphQLInputField(GraphQLString, description="e.g. acme-corp"),
                    "id": GraphQLInputField(GraphQLID, description="The global ID."),
                },
                description="Exactly one of identifier or id.",
            )
        )
        builder.add_query_field(
            "namespaces",
            GraphQLField(
                GraphQLNonNull(builder.connection(namespace)),
                args=builder.connection_args(),
                resolve=_namespaces,
                description="All namespaces, oldest first.",
            ),
        )
        builder.add_query_field(
            "namespace",
            GraphQLField(
                namespace,
                args={"by": GraphQLArgument(GraphQLNonNull(by))},
                resolve=_namespace,
                description="One namespace by identifier or global ID (null if none).",
            ),
        )
        _add_mutations(builder, namespace, tier, role, member)


def _namespace_type(
    builder: SchemaBuilder, tier: GraphQLEnumType, member: GraphQLObjectType
) -> GraphQLObjectType:
    namespace: GraphQLObjectType

    def fields() -> dict[str, GraphQLField]:
        own = {
            "id": builder.global_id_field("Namespace"),
            "identifier": GraphQLField(GraphQLNonNull(GraphQLString)),
            "displayName": GraphQLField(
                GraphQLNonNull(GraphQLString), resolve=attr("display_name")
            ),
            "tier": GraphQLField(GraphQLNonNull(tier)),
            "parentEnterpriseId": GraphQLField(
                GraphQLID, resolve=_parent_id, description="Global ID of the parent enterprise."
            ),
            "parentEnterprise": GraphQLField(namespace, resolve=_parent),
            **stamp_fields(builder),
            "members": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(member))),
                resolve=_members,
                description="Members and roles (authenticated callers only; [] for USER).",
            ),
        }
        return {**own, **_EXTRA.of(builder)}

    namespace = GraphQLObjectType(
        "Namespace",
        fields,
        interfaces=[builder.node_interface],
        description="The isolation boundary for repositories.",
    )
    return namespace


def _add_mutations(
    builder: SchemaBuilder,
    namespace: GraphQLObjectType,
    tier: GraphQLEnumType,
    role: GraphQLEnumType,
    member: GraphQLObjectType,
) -> None:
    nn_string = GraphQLNonNull(GraphQLString)
    add_mutation(
        builder,
        "createNamespace",
        input_fields={
            "identifier": GraphQLInputField(nn_string, description="A DNS label, unique."),
            "tier": GraphQLInputField(GraphQLNonNull(tier)),
            "displayName": GraphQLInputField(GraphQLString, description="Default: identifier."),
            "parentEnterpriseId": GraphQLInputField(
                GraphQLID,
                description="ORGANISATION only: the enterprise's global ID or identifier.",
            ),
        },
        payload_fields={"namespace": GraphQLField(namespace)},
        resolve=_create,
        description="Create a namespace (ENTERPRISE: admins only).",
    )
    add_mutation(
        builder,
        "updateNamespace",
        input_fields={
            "identifier": GraphQLInputField(nn_string),
            "displayName": GraphQLInputField(nn_string),
        },
        payload_fields={"namespace": GraphQLField(namespace)},
        resolve=_update,
        description="Change a namespace's display name (creator, owner, maintainer, admin).",
    )
    add_mutation(
        builder,
        "deleteNamespace",
        input_fields={"identifier": GraphQLInputField(nn_string)},
        payload_fields={"deletedIdentifier": GraphQLField(GraphQLString)},
        resolve=_delete,
        description="Delete an empty namespace (its creator or an admin).",
    )
    add_mutation(
        builder,
        "addNamespaceMember",
        input_fields={
            "namespace": GraphQLInputField(nn_string, description="The identifier."),
            "username": GraphQLInputField(nn_string),
            "role": GraphQLInputField(GraphQLNonNull(role)),
        },
        payload_fields={
            "namespace": GraphQLField(namespace),
            "member": GraphQLField(member),
        },
        resolve=_add_member,
        description="Add a member, or change a member's role.",
    )
    add_mutation(
        builder,
        "removeNamespaceMember",
        input_fields={
            "namespace": GraphQLInputField(nn_string, description="The identifier."),
            "username": GraphQLInputField(nn_string),
        },
        payload_fields={
            "namespace": GraphQLField(namespace),
            "removedMember": GraphQLField(member),
        },
        resolve=_remove_member,
        description="Remove a member (or leave); the last owner cannot go.",
    )


# ---------------------------------------------------------------------- resolvers
def _actions(info: ResolveInfo) -> NamespaceActions:
    return NamespaceActions(context_of(info).services.store)


async def _fetch_node(info: ResolveInfo, raw_id: str) -> Namespace | None:
    return await _actions(info).get_by_id(raw_id)


async def _namespaces(
    _root: Any, info: ResolveInfo, first: int, after: str | None = None
) -> Connection[Namespace]:
    ctx = context_of(info)
    ctx.actor()  # a token without the read scope is refused, even though anonymous is fine
    size = check_first(first, max_page_size=ctx.services.settings.api.max_page_size)
    store = ctx.services.store

    async def fetch(count: int, cursor: str | None) -> Any:
        return await store.list_namespaces(first=count, after=cursor)

    return await paging.connection(fetch, first=size, after=after)


async def _namespace(_root: Any, info: ResolveInfo, by: dict[str, Any]) -> Namespace | None:
    context_of(info).actor()
    identifier, raw_id = by.get("identifier"), by.get("id")
    if (identifier is None) == (raw_id is None):
        raise InvalidArgument("by must give exactly one of identifier or id", field="by")
    actions = _actions(info)
    if identifier is not None:
        return await actions.get_by_identifier(identifier)
    return await actions.get_by_id(decode_global_id(str(raw_id), "Namespace").id)


def _parent_id(namespace: Namespace, _info: ResolveInfo) -> str | None:
    parent = namespace.parent_enterprise_id
    return encode_global_id("Namespace", parent) if parent else None


async def _parent(namespace: Namespace, info: ResolveInfo) -> Namespace | None:
    parent = namespace.parent_enterprise_id
    return await _actions(info).get_by_id(parent) if parent else None


async def _members(namespace: Namespace, info: ResolveInfo) -> list[Membership]:
    ctx = context_of(info)
    return await MemberActions(ctx.services.store).list(ctx.require_principal(), namespace)


async def _create(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    namespace = await _actions(info).create(
        ctx.actor(),
        data["identifier"],
        data["tier"],
        display_name=data.get("displayName"),
        parent_enterprise=data.get("parentEnterpriseId"),
    )
    return {"namespace": namespace}


async def _update(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    namespace = await _actions(info).update(
        ctx.actor(), data["identifier"], display_name=data["displayName"]
    )
    return {"namespace": namespace}


async def _delete(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    identifier = await _actions(info).delete(ctx.actor(), data["identifier"])
    return {"deletedIdentifier": identifier}


async def _add_member(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    members = MemberActions(ctx.services.store)
    membership = await members.set(ctx.actor(), data["namespace"], data["username"], data["role"])
    return {
        "namespace": await members.namespaces.get_by_id(membership.namespace_id),
        "member": membership,
    }


async def _remove_member(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    members = MemberActions(ctx.services.store)
    removed = await members.remove(ctx.actor(), data["namespace"], data["username"])
    return {
        "namespace": await members.namespaces.get_by_id(removed.namespace_id),
        "removedMember": removed,
    }
