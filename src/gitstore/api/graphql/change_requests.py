"""The change requests schema module (docs/change-requests.md): types and queries.

* ``changeRequest(id)`` (null when missing or not visible), ``changeRequests(repository,
  state, first, after)`` (newest first);
* ``ChangeRequest`` fields computed live from git, each only when selected: ``diff`` (the
  semantic diff merge base -> source head, per resource and field), ``validation`` (the
  source head checked as a push would be), ``mergeability`` (a dry run of the three-way merge:
  conflicts per resource and field, whether a fast-forward is possible), ``approvals`` (the
  repository's rule and how many approvals are missing), ``reviews`` and ``comments``.

Mutations are ``change_request_mutations``. Use cases live in ``gitstore.api.changes``.
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
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.backends.metadata.base_changes import ChangeRequestNote, ChangeRequestStatus
from gitstore.domain.changes import Conflict, MergeStrategy, ResourceChange, ReviewVerdict
from gitstore.domain.errors import NotFound

from ..changes import actions, merging
from ..changes.actions import ChangeRequestView
from ..changes.notify import merged_sha
from ..context import context_of
from .builder import SchemaBuilder
from .change_request_mutations import add_mutations
from .fields import attr
from .info import ResolveInfo
from .relay import Connection, GlobalId, check_first, decode_global_id
from .scalars import json_type

CHANGE_REQUEST = "ChangeRequest"


def _enum(name: str, values: Any, description: str) -> GraphQLEnumType:
    return GraphQLEnumType(
        name, {v.value: GraphQLEnumValue(v) for v in values}, description=description
    )


def _cr(name: str) -> Any:
    return lambda v, _i: getattr(v.cr, name)


class ChangeRequestsModule:
    name = "change-requests"

    def contribute(self, builder: SchemaBuilder) -> None:
        types = Types(builder)
        builder.register_node(CHANGE_REQUEST, _node, [ChangeRequestView])
        builder.add_query_field(
            "changeRequest",
            GraphQLField(
                types.change_request,
                args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
                resolve=_one,
                description="One change request (null if none, or not visible to the caller).",
            ),
        )
        builder.add_query_field(
            "changeRequests",
            GraphQLField(
                GraphQLNonNull(builder.connection(types.change_request)),
                args=builder.connection_args(
                    repository=GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="namespace/repo"
                    ),
                    state=GraphQLArgument(types.state, description="Only this state."),
                ),
                resolve=_list,
                description="Change requests of a repository, newest first (read access).",
            ),
        )
        add_mutations(builder, types)


class Types:
    def __init__(self, builder: SchemaBuilder) -> None:
        s = GraphQLNonNull(GraphQLString)
        b = GraphQLNonNull(GraphQLBoolean)
        i = GraphQLNonNull(GraphQLInt)
        when = GraphQLNonNull(builder.datetime)
        json = json_type(builder)
        self.state = builder.add_type(
            _enum("ChangeRequestState", ChangeRequestStatus, "OPEN, MERGED or CLOSED.")
        )
        self.strategy = builder.add_type(
            _enum(
                "MergeStrategy",
                MergeStrategy,
                "MERGE: a merge commit (two parents); SQUASH: one commit with the merged "
                "changes; FAST_FORWARD: move the target to the source head (only when the "
                "target has not moved on).",
            )
        )
        self.verdict = builder.add_type(
            _enum("ReviewVerdict", ReviewVerdict, "A review's verdict.")
        )
        field_change = builder.add_type(
            GraphQLObjectType(
                "ChangeRequestFieldChange",
                {
                    "path": GraphQLField(s, description="e.g. spec.price.amount"),
                    "op": GraphQLField(s, resolve=lambda f, _i: f.op.upper()),
                    "old": GraphQLField(json),
                    "new": GraphQLField(json),
                },
                description="One field's change: ADDED, REMOVED or CHANGED, old -> new.",
            )
        )
        self.resource_change = builder.add_type(
            GraphQLObjectType(
                "ChangeRequestResourceChange",
                {
                    "kind": GraphQLField(s, description="Empty for a file that is no manifest."),
                    "name": GraphQLField(s),
                    "op": GraphQLField(s, resolve=lambda c, _i: c.op.upper()),
                    "path": GraphQLField(s),
                    "oldPath": GraphQLField(s, resolve=attr("old_path")),
                    "fields": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(field_change))),
                        resolve=lambda c, _i: list(c.fields),
                    ),
                },
                description="What happened to one resource (kind, name): ADDED, CHANGED, REMOVED.",
            )
        )
        violation = builder.add_type(
            GraphQLObjectType(
                "ChangeRequestViolation",
                {
                    "path": GraphQLField(s),
                    "field": GraphQLField(s),
                    "rule": GraphQLField(s),
                    "message": GraphQLField(s),
                },
                description="A rule a file breaks (as a push would be refused for).",
            )
        )
        validation = builder.add_type(
            GraphQLObjectType(
                "ChangeRequestValidation",
                {
                    "headSha": GraphQLField(s, resolve=lambda v, _i: v[0]),
                    "valid": GraphQLField(b, resolve=lambda v, _i: not v[1]),
                    "validatedFiles": GraphQLField(i, resolve=lambda v, _i: v[2]),
                    "violations": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(violation))),
                        resolve=lambda v, _i: v[1],
                    ),
                },
                description="The source head checked with the push path's rules.",
            )
        )
        conflict = builder.add_type(
            GraphQLObjectType(
                "MergeConflict",
                {
                    "kind": GraphQLField(s),
                    "name": GraphQLField(s),
                    "path": GraphQLField(s),
                    "field": GraphQLField(s, description="Empty: the whole resource/file."),
                    "reason": GraphQLField(
                        s,
                        resolve=lambda c, _i: c.reason.upper().replace("-", "_"),
                        description="BOTH_CHANGED, DELETED_AND_CHANGED, BOTH_ADDED, "
                        "INVALID_RESULT.",
                    ),
                    "base": GraphQLField(json),
                    "target": GraphQLField(json),
                    "source": GraphQLField(json),
                    "message": GraphQLField(s),
                },
                description="A place both branches changed differently.",
            )
        )
        mergeability = builder.add_type(
            GraphQLObjectType(
                "ChangeRequestMergeability",
                {
                    "mergeable": GraphQLField(b),
                    "fastForwardPossible": GraphQLField(b, resolve=attr("fast_forward")),
                    "conflicts": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(conflict)))
                    ),
                    "reason": GraphQLField(s, description="Why not mergeable (empty if it is)."),
                },
            )
        )
        approvals = builder.add_type(
            GraphQLObjectType(
                "ChangeRequestApprovals",
                {
                    "required": GraphQLField(i, description="0: no rule for this target."),
                    "missing": GraphQLField(i),
                },
            )
        )
        note_fields = {
            "id": GraphQLField(GraphQLNonNull(GraphQLID)),
            "author": GraphQLField(s, resolve=attr("author_username")),
            "body": GraphQLField(s),
            "headSha": GraphQLField(s, resolve=attr("head_sha")),
            "createdAt": GraphQLField(when, resolve=attr("created_at")),
        }
        self.review = builder.add_type(
            GraphQLObjectType(
                "ChangeRequestReview",
                {
                    **note_fields,
                    "verdict": GraphQLField(
                        GraphQLNonNull(self.verdict), resolve=lambda n, _i: ReviewVerdict(n.verdict)
                    ),
                },
            )
        )
        self.comment = builder.add_type(GraphQLObjectType("ChangeRequestComment", note_fields))
        self.change_request = builder.add_type(
            GraphQLObjectType(
                CHANGE_REQUEST,
                lambda: {
                    "id": GraphQLField(
                        GraphQLNonNull(GraphQLID),
                        resolve=lambda v, _i: GlobalId(CHANGE_REQUEST, v.cr.id).encode(),
                    ),
                    "number": GraphQLField(i, resolve=_cr("number")),
                    "repository": GraphQLField(s, resolve=lambda v, _i: v.record.repository_id),
                    "sourceBranch": GraphQLField(s, resolve=_cr("source_branch")),
                    "targetBranch": GraphQLField(s, resolve=_cr("target_branch")),
                    "title": GraphQLField(s, resolve=_cr("title")),
                    "description": GraphQLField(s, resolve=_cr("description")),
                    "author": GraphQLField(s, resolve=_cr("author_username")),
                    "state": GraphQLField(GraphQLNonNull(self.state), resolve=_cr("state")),
                    "headSha": GraphQLField(
                        s, resolve=_cr("head_sha"), description="The source head last recorded."
                    ),
                    "baseSha": GraphQLField(s, resolve=_cr("base_sha")),
                    "mergeSha": GraphQLField(s, resolve=lambda v, _i: merged_sha(v.cr)),
                    "mergedBy": GraphQLField(
                        s, resolve=lambda v, _i: v.cr.merged_by if merged_sha(v.cr) else ""
                    ),
                    "createdAt": GraphQLField(when, resolve=_cr("created_at")),
                    "updatedAt": GraphQLField(when, resolve=_cr("updated_at")),
                    "closedAt": GraphQLField(builder.datetime, resolve=_cr("closed_at")),
                    "diff": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(self.resource_change))),
                        resolve=_diff,
                        description="Merge base -> source head, per resource and field.",
                    ),
                    "validation": GraphQLField(GraphQLNonNull(validation), resolve=_validation),
                    "mergeability": GraphQLField(
                        GraphQLNonNull(mergeability), resolve=_mergeability
                    ),
                    "approvals": GraphQLField(GraphQLNonNull(approvals), resolve=_approvals),
                    "reviews": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(self.review))),
                        resolve=_reviews,
                    ),
                    "comments": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(self.comment))),
                        resolve=_comments,
                    ),
                },
                interfaces=[builder.node_interface],
                description="A proposal to merge a branch into another, with review.",
            )
        )


def raw_id(value: str) -> str:
    """The UUID of a ChangeRequest global ID (``INVALID_ARGUMENT`` naming ``id`` if not one)."""
    return decode_global_id(value, CHANGE_REQUEST).id


async def _node(info: ResolveInfo, raw: str) -> ChangeRequestView | None:
    ctx = context_of(info)
    try:
        return await actions.visible(ctx.services, ctx.actor(), raw)
    except NotFound:
        return None


async def _one(_root: Any, info: ResolveInfo, id: str) -> ChangeRequestView | None:
    ctx = context_of(info)
    try:
        return await actions.visible(ctx.services, ctx.actor(), raw_id(id))
    except NotFound:
        return None


async def _list(
    _root: Any,
    info: ResolveInfo,
    repository: str,
    first: int,
    after: str | None = None,
    state: ChangeRequestStatus | None = None,
) -> Connection[ChangeRequestView]:
    ctx = context_of(info)
    size = check_first(first, max_page_size=ctx.services.settings.api.max_page_size)
    return await actions.listing(
        ctx.services, ctx.actor(), repository, state=state, first=size, after=after
    )


async def _diff(view: ChangeRequestView, info: ResolveInfo) -> list[ResourceChange]:
    return await merging.diff(context_of(info).services, view)


async def _validation(view: ChangeRequestView, info: ResolveInfo) -> Any:
    return await merging.head_validation(context_of(info).services, view)


async def _mergeability(view: ChangeRequestView, info: ResolveInfo) -> merging.Mergeability:
    return await merging.mergeability(context_of(info).services, view)


async def _approvals(view: ChangeRequestView, info: ResolveInfo) -> merging.Approvals:
    return await merging.approvals(context_of(info).services, view)


async def _notes(view: ChangeRequestView, info: ResolveInfo) -> list[ChangeRequestNote]:
    ctx = context_of(info)
    key = ("change-request-notes", view.cr.id)
    if key not in ctx.cache:
        ctx.cache[key] = await ctx.services.store.list_change_request_notes(view.cr.id)
    notes: list[ChangeRequestNote] = ctx.cache[key]
    return notes


async def _reviews(view: ChangeRequestView, info: ResolveInfo) -> list[ChangeRequestNote]:
    return [n for n in await _notes(view, info) if n.verdict]


async def _comments(view: ChangeRequestView, info: ResolveInfo) -> list[ChangeRequestNote]:
    return [n for n in await _notes(view, info) if not n.verdict]


__all__ = ["CHANGE_REQUEST", "ChangeRequestsModule", "Conflict", "Types", "raw_id"]
