"""The identity schema module: ``viewer``, ``accessTokens``, ``login``, ``createUser``,
``createAccessToken``, ``revokeAccessToken``; ``User`` and ``AccessToken`` are Relay nodes.

Thin by design: each resolver reads its input, calls ``IdentityActions`` and shapes the result.
``viewer`` is null for anonymous callers; ``accessTokens`` needs authentication. A ``User`` node
is visible to any authenticated caller, an ``AccessToken`` node only to its owner.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.backends.metadata.base import AccessToken, User

from ..client_address import current_client_address
from ..context import context_of
from .builder import SchemaBuilder
from .fields import ExtraFields, attr
from .info import ResolveInfo
from .payloads import add_mutation
from .relay import decode_global_id

_USER_EXTRA = ExtraFields("User", frozenset({"id", "username", "isAdmin", "createdAt"}))


def add_user_field(builder: SchemaBuilder, name: str, field: GraphQLField) -> None:
    """Add ``User.<name>`` from a later module (``sshKeys``), before the schema is built."""
    _USER_EXTRA.add(builder, name, field)


class IdentityModule:
    name = "identity"

    def contribute(self, builder: SchemaBuilder) -> None:
        user = builder.add_type(_user_type(builder))
        token = builder.add_type(_access_token_type(builder))
        builder.register_node("User", _fetch_user, [User])
        builder.register_node("AccessToken", _fetch_token, [AccessToken])

        builder.add_query_field(
            "viewer",
            GraphQLField(user, resolve=_viewer, description="The caller (null if anonymous)."),
        )
        builder.add_query_field(
            "accessTokens",
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(token))),
                resolve=_access_tokens,
                description="The caller's personal access tokens, revoked ones included.",
            ),
        )
        nn_string = GraphQLNonNull(GraphQLString)
        add_mutation(
            builder,
            "login",
            input_fields={
                "username": GraphQLInputField(nn_string),
                "password": GraphQLInputField(nn_string),
            },
            payload_fields={
                "token": GraphQLField(GraphQLString, description="Send as Authorization: Bearer."),
                "expiresAt": GraphQLField(builder.datetime),
                "user": GraphQLField(user),
            },
            resolve=_login,
            description="Exchange a username and password for a signed login token (JWT)."
            " At most once per operation (each is a password check).",
            once_per_operation=True,
        )
        add_mutation(
            builder,
            "createUser",
            input_fields={
                "username": GraphQLInputField(nn_string, description="A DNS label."),
                "password": GraphQLInputField(nn_string, description="At least 8 characters."),
                "isAdmin": GraphQLInputField(GraphQLBoolean, default_value=False),
            },
            payload_fields={"user": GraphQLField(user)},
            resolve=_create_user,
            description="Create a user (admins only).",
        )
        add_mutation(
            builder,
            "createAccessToken",
            input_fields={
                "name": GraphQLInputField(nn_string),
                "scopes": GraphQLInputField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(_scope_enum(builder))))
                ),
                "expiresInDays": GraphQLInputField(
                    GraphQLInt, description="1..366; omit for a token that does not expire."
                ),
            },
            payload_fields={
                "accessToken": GraphQLField(token),
                "secret": GraphQLField(
                    GraphQLString, description="The token itself (gst_...); shown only once."
                ),
            },
            resolve=_create_access_token,
            description="Create a personal access token (needs a login token, not another PAT).",
        )
        add_mutation(
            builder,
            "revokeAccessToken",
            input_fields={"id": GraphQLInputField(GraphQLNonNull(GraphQLID))},
            payload_fields={"accessToken": GraphQLField(token)},
            resolve=_revoke_access_token,
            description="Revoke one of the caller's access tokens (idempotent).",
        )


# ---------------------------------------------------------------------- types
def _user_type(builder: SchemaBuilder) -> GraphQLObjectType:
    own = {
        "id": builder.global_id_field("User"),
        "username": GraphQLField(GraphQLNonNull(GraphQLString)),
        "isAdmin": GraphQLField(GraphQLNonNull(GraphQLBoolean), resolve=attr("is_admin")),
        "createdAt": GraphQLField(GraphQLNonNull(builder.datetime), resolve=attr("created_at")),
    }
    return GraphQLObjectType(
        "User",
        lambda: {**own, **_USER_EXTRA.of(builder)},
        interfaces=[builder.node_interface],
    )


def _scope_enum(builder: SchemaBuilder) -> GraphQLEnumType:
    if builder.has_type("AccessTokenScope"):
        scope = builder.get_type("AccessTokenScope")
        assert isinstance(scope, GraphQLEnumType)
        return scope
    return builder.add_type(
        GraphQLEnumType(
            "AccessTokenScope",
            {
                "READ": GraphQLEnumValue("read", description="Queries."),
                "WRITE": GraphQLEnumValue("write", description="Mutations."),
                "STATUS": GraphQLEnumValue(
                    "status",
                    description="Status subresources only (a controller token): "
                    "update<Kind>Status for a writer of the namespace.",
                ),
            },
        )
    )


def _access_token_type(builder: SchemaBuilder) -> GraphQLObjectType:
    return GraphQLObjectType(
        "AccessToken",
        {
            "id": builder.global_id_field("AccessToken"),
            "name": GraphQLField(GraphQLNonNull(GraphQLString)),
            "scopes": GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(_scope_enum(builder)))),
                resolve=lambda token, _info: sorted(token.scopes),
            ),
            "createdAt": GraphQLField(GraphQLNonNull(builder.datetime), resolve=attr("created_at")),
            "expiresAt": GraphQLField(builder.datetime, resolve=attr("expires_at")),
            "revokedAt": GraphQLField(builder.datetime, resolve=attr("revoked_at")),
            "lastUsedAt": GraphQLField(builder.datetime, resolve=attr("last_used_at")),
        },
        interfaces=[builder.node_interface],
    )


# ---------------------------------------------------------------------- resolvers
async def _viewer(_root: Any, info: ResolveInfo) -> User | None:
    ctx = context_of(info)
    principal = ctx.actor()
    if principal is None:
        return None
    return await ctx.services.store.get_user(principal.user_id)


async def _access_tokens(_root: Any, info: ResolveInfo) -> list[AccessToken]:
    ctx = context_of(info)
    return await ctx.services.identity.list_access_tokens(ctx.require_principal())


async def _fetch_user(info: ResolveInfo, raw_id: str) -> User | None:
    ctx = context_of(info)
    ctx.require_principal()
    return await ctx.services.store.get_user(raw_id)


async def _fetch_token(info: ResolveInfo, raw_id: str) -> AccessToken | None:
    ctx = context_of(info)
    tokens = await ctx.services.identity.list_access_tokens(ctx.require_principal())
    return next((t for t in tokens if t.id == raw_id), None)


async def _login(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    identity = context_of(info).services.identity
    result = await identity.login(
        data["username"], data["password"], client=current_client_address()
    )
    return {"token": result.token, "expiresAt": result.expires_at, "user": result.user}


async def _create_user(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    user = await ctx.services.identity.create_user(
        ctx.actor(), data["username"], data["password"], is_admin=bool(data.get("isAdmin"))
    )
    return {"user": user}


async def _create_access_token(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    created = await ctx.services.identity.create_access_token(
        ctx.actor(), data["name"], frozenset(data["scopes"]), data.get("expiresInDays")
    )
    return {"accessToken": created.token, "secret": created.secret}


async def _revoke_access_token(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    token_id = decode_global_id(data["id"], "AccessToken").id
    token = await ctx.services.identity.revoke_access_token(ctx.actor(), token_id)
    return {"accessToken": token}
