"""The repositories schema module: ``repository(by:)``, ``repositories(namespace:)``,
``Namespace.repositories``, ``createRepository``, ``updateRepository``, ``deleteRepository``;
``Repository`` is a Relay node (``gid://GitStore/Repository/<uuid>``).

Thin by design: resolvers call ``gitstore.api.repositories.RepositoryActions``, which talks
to the git service through the app's client (``ApiServices.git``) and keeps the two sides in
step. PRIVATE repositories are visible only to callers who may read them (see
``gitstore.api.namespaces.permissions``). Must come after the namespaces module.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
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

from gitstore.backends.metadata.base import Namespace, PublishMode, RepositoryRecord, Visibility
from gitstore.domain.errors import InvalidArgument, NotFound

from ..context import context_of
from ..repositories.actions import RepositoryActions
from .builder import SchemaBuilder
from .fields import attr, stamp_fields
from .info import ResolveInfo
from .namespaces import add_namespace_field
from .payloads import add_mutation
from .relay import Connection, check_first, decode_global_id, encode_global_id


class RepositoriesModule:
    name = "repositories"

    def contribute(self, builder: SchemaBuilder) -> None:
        namespace = builder.get_type("Namespace")
        assert isinstance(namespace, GraphQLObjectType)
        publish_mode = builder.add_type(
            GraphQLEnumType(
                "PublishMode",
                {
                    "ON_COMMIT": GraphQLEnumValue(
                        PublishMode.ON_COMMIT,
                        description="The default branch's head is what storefronts see.",
                    ),
                    "ON_RELEASE_TAG": GraphQLEnumValue(
                        PublishMode.ON_RELEASE_TAG,
                        description="Only release tags (release/*, v*) publish.",
                    ),
                },
            )
        )
        visibility = builder.add_type(
            GraphQLEnumType(
                "RepositoryVisibility",
                {
                    "PRIVATE": GraphQLEnumValue(
                        Visibility.PRIVATE, description="Readable by the namespace's people."
                    ),
                    "PUBLIC": GraphQLEnumValue(Visibility.PUBLIC, description="Readable by all."),
                },
            )
        )
        repository = builder.add_type(
            _repository_type(builder, namespace, publish_mode, visibility)
        )
        builder.register_node("Repository", _fetch_node, [RepositoryRecord])
        connection = builder.connection(repository)
        add_namespace_field(
            builder,
            "repositories",
            GraphQLField(
                GraphQLNonNull(connection),
                args=builder.connection_args(),
                resolve=_namespace_repositories,
                description="Repositories of this namespace the caller may read, oldest first.",
            ),
        )
        by = builder.add_type(
            GraphQLInputObjectType(
                "RepositoryBy",
                {
                    "id": GraphQLInputField(GraphQLID, description="The global ID."),
                    "namespace": GraphQLInputField(GraphQLString, description="With name."),
                    "name": GraphQLInputField(GraphQLString, description="With namespace."),
                    "fullName": GraphQLInputField(GraphQLString, description="namespace/name"),
                },
                description="Exactly one of: id; namespace and name; fullName.",
            )
        )
        builder.add_query_field(
            "repository",
            GraphQLField(
                repository,
                args={"by": GraphQLArgument(GraphQLNonNull(by))},
                resolve=_repository,
                description="One repository (null if none, or if it is private to you).",
            ),
        )
        builder.add_query_field(
            "repositories",
            GraphQLField(
                GraphQLNonNull(connection),
                args=builder.connection_args(
                    namespace=GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="The identifier."
                    )
                ),
                resolve=_repositories,
                description="Repositories of a namespace the caller may read, oldest first.",
            ),
        )
        _add_mutations(builder, repository, publish_mode, visibility)


def _repository_type(
    builder: SchemaBuilder,
    namespace: GraphQLObjectType,
    publish_mode: GraphQLEnumType,
    visibility: GraphQLEnumType,
) -> GraphQLObjectType:
    nn_string = GraphQLNonNull(GraphQLString)
    return GraphQLObjectType(
        "Repository",
        {
            "id": builder.global_id_field("Repository"),
            "name": GraphQLField(nn_string),
            "fullName": GraphQLField(
                nn_string, resolve=attr("repository_id"), description="namespace/name"
            ),
            "namespace": GraphQLField(GraphQLNonNull(namespace), resolve=_owner),
            "description": GraphQLField(nn_string),
            "publishMode": GraphQLField(GraphQLNonNull(publish_mode), resolve=attr("publish_mode")),
            "defaultBranch": GraphQLField(nn_string, resolve=attr("default_branch")),
            "visibility": GraphQLField(GraphQLNonNull(visibility)),
            "releasePatterns": GraphQLField(
                GraphQLNonNull(GraphQLList(nn_string)),
                resolve=lambda record, _info: list(record.release_patterns),
                description="Tag globs that publish (ON_RELEASE_TAG).",
            ),
            "requireSignedCommits": GraphQLField(
                GraphQLNonNull(GraphQLBoolean),
                resolve=attr("require_signed_commits"),
                description="Pushed commits and tags must carry an SSH signature by a key of "
                "the pusher.",
            ),
            **stamp_fields(builder),
        },
        interfaces=[builder.node_interface],
        description="A catalogue repository: a bare git repository plus its settings.",
    )


def _add_mutations(
    builder: SchemaBuilder,
    repository: GraphQLObjectType,
    publish_mode: GraphQLEnumType,
    visibility: GraphQLEnumType,
) -> None:
    nn_string = GraphQLNonNull(GraphQLString)
    target = {
        "namespace": GraphQLInputField(nn_string, description="The namespace identifier."),
        "name": GraphQLInputField(nn_string, description="A DNS label."),
    }
    add_mutation(
        builder,
        "createRepository",
        input_fields={
            **target,
            "description": GraphQLInputField(GraphQLString, default_value=""),
            "publishMode": GraphQLInputField(publish_mode, default_value=PublishMode.ON_COMMIT),
            "defaultBranch": GraphQLInputField(GraphQLString, default_value="main"),
            "visibility": GraphQLInputField(visibility, default_value=Visibility.PRIVATE),
        },
        payload_fields={"repository": GraphQLField(repository)},
        resolve=_create,
        description="Create a repository in the git service and record it (writers).",
    )
    add_mutation(
        builder,
        "updateRepository",
        input_fields={
            **target,
            "description": GraphQLInputField(GraphQLString),
            "publishMode": GraphQLInputField(publish_mode),
            "defaultBranch": GraphQLInputField(GraphQLString),
            "visibility": GraphQLInputField(visibility),
            "releasePatterns": GraphQLInputField(
                GraphQLList(nn_string),
                description='Tag globs that are release tags, e.g. ["release/*", "v*"].',
            ),
            "requireSignedCommits": GraphQLInputField(GraphQLBoolean),
        },
        payload_fields={"repository": GraphQLField(repository)},
        resolve=_update,
        description="Change a repository's settings; omitted fields stay (maintainers).",
    )
    add_mutation(
        builder,
        "deleteRepository",
        input_fields=target,
        payload_fields={
            "deletedFullName": GraphQLField(GraphQLString, description="namespace/name"),
            "deletedRepositoryId": GraphQLField(GraphQLID, description="Its global ID."),
        },
        resolve=_delete,
        description="Delete a repository from the git service and the records (maintainers).",
    )


# ---------------------------------------------------------------------- resolvers
def _actions(info: ResolveInfo) -> RepositoryActions:
    services = context_of(info).services
    return RepositoryActions(services.store, services.git)


def _page_size(info: ResolveInfo, first: int) -> int:
    return check_first(first, max_page_size=context_of(info).services.settings.api.max_page_size)


async def _fetch_node(info: ResolveInfo, raw_id: str) -> RepositoryRecord | None:
    return await _actions(info).get_by_id(context_of(info).actor(), raw_id)


async def _owner(record: RepositoryRecord, info: ResolveInfo) -> Namespace:
    cache = context_of(info).cache
    key = ("namespace", record.namespace_id)
    if key not in cache:
        cache[key] = await context_of(info).services.store.get_namespace(record.namespace_id)
    namespace = cache[key]
    if namespace is None:
        raise NotFound(f"the namespace of {record.repository_id} no longer exists")
    assert isinstance(namespace, Namespace)
    return namespace


async def _namespace_repositories(
    namespace: Namespace, info: ResolveInfo, first: int, after: str | None = None
) -> Connection[RepositoryRecord]:
    actor = context_of(info).actor()
    size = _page_size(info, first)
    return await _actions(info).list(actor, namespace, first=size, after=after)


async def _repositories(
    _root: Any, info: ResolveInfo, namespace: str, first: int, after: str | None = None
) -> Connection[RepositoryRecord]:
    actor = context_of(info).actor()
    size = _page_size(info, first)
    actions = _actions(info)
    owner = await actions.namespaces.require(namespace, field="namespace")
    return await actions.list(actor, owner, first=size, after=after)


async def _repository(_root: Any, info: ResolveInfo, by: dict[str, Any]) -> RepositoryRecord | None:
    actor = context_of(info).actor()
    given = {key for key, value in by.items() if value is not None}
    actions = _actions(info)
    if given == {"id"}:
        return await actions.get_by_id(actor, decode_global_id(by["id"], "Repository").id)
    if given == {"namespace", "name"}:
        return await actions.get(actor, by["namespace"], by["name"])
    if given == {"fullName"}:
        namespace, sep, name = by["fullName"].partition("/")
        if not sep or "/" in name:
            raise InvalidArgument(
                f"fullName {by['fullName']!r} must have the form <namespace>/<name>",
                field="fullName",
            )
        return await actions.get(actor, namespace, name)
    raise InvalidArgument(
        "by must give exactly one of: id; namespace and name; fullName", field="by"
    )


async def _create(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    record = await _actions(info).create(
        context_of(info).actor(),
        data["namespace"],
        data["name"],
        description=data.get("description"),
        publish_mode=data.get("publishMode") or PublishMode.ON_COMMIT,
        default_branch=data.get("defaultBranch"),
        visibility=data.get("visibility") or Visibility.PRIVATE,
    )
    return {"repository": record}


async def _update(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    record = await _actions(info).update(
        context_of(info).actor(),
        data["namespace"],
        data["name"],
        description=data.get("description"),
        publish_mode=data.get("publishMode"),
        default_branch=data.get("defaultBranch"),
        visibility=data.get("visibility"),
        release_patterns=(
            tuple(data["releasePatterns"]) if data.get("releasePatterns") is not None else None
        ),
        require_signed_commits=data.get("requireSignedCommits"),
    )
    return {"repository": record}


async def _delete(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    record = await _actions(info).delete(context_of(info).actor(), data["namespace"], data["name"])
    return {
        "deletedFullName": record.repository_id,
        "deletedRepositoryId": encode_global_id("Repository", record.id),
    }
