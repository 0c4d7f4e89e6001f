"""The shadow re-index schema module (``docs/projection.md``, "Shadow re-indexing").

* query ``shadowReindex(repository)``: the latest re-index's state as JSON (``id``,
  ``state``, per view ``commit`` and ``comparison``: counts per kind and index, digests, a
  sample of differing documents), null when the repository was never re-indexed;
* mutations ``startShadowReindex(repository, acceptDifferences)``,
  ``acceptShadowReindex(repository, id)``, ``abandonShadowReindex(repository, id)``: each
  queues a request for the worker and answers the re-index ``id``.

Maintainers, owners and admins only (``api.reindex.actions``).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInputField,
    GraphQLNonNull,
    GraphQLString,
)

from ..context import context_of
from ..reindex import actions
from .builder import SchemaBuilder
from .info import ResolveInfo
from .payloads import add_mutation
from .scalars import json_type


class ReindexModule:
    name = "reindex"

    def contribute(self, builder: SchemaBuilder) -> None:
        json = json_type(builder)
        builder.add_query_field(
            "shadowReindex",
            GraphQLField(
                json,
                args={
                    "repository": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="namespace/repo"
                    )
                },
                resolve=_state,
                description="The latest shadow re-index of a repository: state, progress "
                "and comparison (null: none yet; maintainers).",
            ),
        )
        repo = GraphQLInputField(GraphQLNonNull(GraphQLString), description="namespace/repo")
        rid = GraphQLInputField(GraphQLNonNull(GraphQLString), description="the re-index id")
        payload = {
            "id": GraphQLField(GraphQLString, description="The re-index id."),
            "reindex": GraphQLField(json, description="Its state when the request was queued."),
        }
        add_mutation(
            builder,
            "startShadowReindex",
            input_fields={
                "repository": repo,
                "acceptDifferences": GraphQLInputField(
                    GraphQLBoolean, description="Switch even if the comparison differs."
                ),
            },
            payload_fields=payload,
            resolve=_start,
            description="Re-project the repository into shadow buffers, compare, and switch "
            "when equal (maintainers).",
        )
        add_mutation(
            builder,
            "acceptShadowReindex",
            input_fields={"repository": repo, "id": rid},
            payload_fields=payload,
            resolve=_accept,
            description="Accept a DIFFERENT comparison: switch to the shadow (maintainers).",
        )
        add_mutation(
            builder,
            "abandonShadowReindex",
            input_fields={"repository": repo, "id": rid},
            payload_fields=payload,
            resolve=_abandon,
            description="Drop the shadow; readers keep the current buffers (maintainers).",
        )


async def _state(_root: Any, info: ResolveInfo, repository: str) -> Any:
    ctx = context_of(info)
    return await actions.read_state(ctx.services, ctx.require_principal(), repository)


async def _request(info: ResolveInfo, data: dict[str, Any], action: str) -> dict[str, Any]:
    ctx = context_of(info)
    done = await actions.request(
        ctx.services,
        ctx.require_principal(),
        data["repository"],
        action,
        reindex_id=data.get("id") or "",
        accept_differences=bool(data.get("acceptDifferences")),
        request_id=ctx.request_id,
    )
    return {"id": done["id"], "reindex": done["state"]}


async def _start(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    return await _request(info, data, "START")


async def _accept(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    return await _request(info, data, "ACCEPT")


async def _abandon(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    return await _request(info, data, "ABANDON")
