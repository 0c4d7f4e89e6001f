"""The SSH keys schema module: ``addSshKey``, ``removeSshKey``, ``User.sshKeys``; ``SshKey``
is a Relay node (``gid://GitStore/SshKey/<uuid>``).

Thin: resolvers call ``gitstore.api.identity.ssh_keys`` (parsing, fingerprints, who may).
``viewer { sshKeys { id title fingerprint createdAt lastUsedAt } }`` lists the caller's keys;
``User.sshKeys`` of anyone else is ``[]`` unless the caller is an admin (keys are not secret,
but which key is whose is nobody else's business). Must come after the identity module.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.backends.metadata.base import User
from gitstore.backends.metadata.base_git import SshKey

from ..context import context_of
from ..identity import ssh_keys
from .builder import SchemaBuilder
from .fields import attr
from .identity import add_user_field
from .info import ResolveInfo
from .payloads import add_mutation
from .relay import decode_global_id


class SshKeysModule:
    name = "ssh_keys"

    def contribute(self, builder: SchemaBuilder) -> None:
        key = builder.add_type(_ssh_key_type(builder))
        builder.register_node("SshKey", _fetch_key, [SshKey])
        add_user_field(
            builder,
            "sshKeys",
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(key))),
                resolve=_user_keys,
                description="SSH public keys for git over SSH, oldest first (own keys only;"
                " admins see everyone's).",
            ),
        )
        nn_string = GraphQLNonNull(GraphQLString)
        add_mutation(
            builder,
            "addSshKey",
            input_fields={
                "title": GraphQLInputField(
                    GraphQLString, description="A name for the key; default: the key's comment."
                ),
                "publicKey": GraphQLInputField(
                    nn_string,
                    description="One OpenSSH public key line (ssh-ed25519, ecdsa-sha2-nistp*,"
                    " ssh-rsa of 2048+ bits), e.g. the contents of ~/.ssh/id_ed25519.pub.",
                ),
            },
            payload_fields={"sshKey": GraphQLField(key)},
            resolve=_add,
            description="Register an SSH public key for git over SSH (needs a login token).",
        )
        add_mutation(
            builder,
            "removeSshKey",
            input_fields={"id": GraphQLInputField(GraphQLNonNull(GraphQLID))},
            payload_fields={"sshKey": GraphQLField(key, description="The removed key.")},
            resolve=_remove,
            description="Remove one of the caller's SSH keys.",
        )


def _ssh_key_type(builder: SchemaBuilder) -> GraphQLObjectType:
    nn_string = GraphQLNonNull(GraphQLString)
    return GraphQLObjectType(
        "SshKey",
        {
            "id": builder.global_id_field("SshKey"),
            "title": GraphQLField(nn_string),
            "fingerprint": GraphQLField(
                nn_string, description="SHA256:... as `ssh-keygen -lf key.pub` prints it."
            ),
            "publicKey": GraphQLField(
                nn_string, resolve=attr("public_key"), description="<type> <base64>"
            ),
            "createdAt": GraphQLField(GraphQLNonNull(builder.datetime), resolve=attr("created_at")),
            "lastUsedAt": GraphQLField(
                builder.datetime,
                resolve=attr("last_used_at"),
                description="Last git over SSH with this key (to the minute).",
            ),
        },
        interfaces=[builder.node_interface],
        description="An SSH public key of a user.",
    )


async def _user_keys(user: User, info: ResolveInfo) -> list[SshKey]:
    ctx = context_of(info)
    principal = ctx.require_principal()
    if principal.user_id != user.id and not principal.is_admin:
        return []
    return await ctx.services.store.list_ssh_keys(user.id)


async def _fetch_key(info: ResolveInfo, raw_id: str) -> SshKey | None:
    ctx = context_of(info)
    keys = await ssh_keys.list_ssh_keys(ctx.services.store, ctx.require_principal())
    return next((k for k in keys if k.id == raw_id), None)


async def _add(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    key = await ssh_keys.add_ssh_key(
        ctx.services.store, ctx.require_principal(), data["publicKey"], data.get("title")
    )
    return {"sshKey": key}


async def _remove(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    key_id = decode_global_id(data["id"], "SshKey").id
    key = await ssh_keys.remove_ssh_key(ctx.services.store, ctx.require_principal(), key_id)
    return {"sshKey": key}
