"""Change request mutations (thin: each calls one use case of ``gitstore.api.changes``).

``createChangeRequest``, ``reviewChangeRequest``, ``commentOnChangeRequest``,
``mergeChangeRequest``, ``closeChangeRequest`` and ``setChangeRequestApprovalRule``; refusals
are ``userErrors`` with the codes of ``changes.errors.CODES`` (``CONFLICT``, ``STALE_HEAD``,
``NOT_MERGEABLE``, ``APPROVALS_REQUIRED``, ``VALIDATION_FAILED``) besides the usual ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLString,
)

from gitstore.domain.changes import MergeStrategy, ReviewVerdict

from ..changes import actions, merging
from ..changes.errors import CODES
from ..context import context_of
from .builder import SchemaBuilder
from .info import ResolveInfo
from .payloads import add_mutation

if TYPE_CHECKING:
    from .change_requests import Types


def add_mutations(builder: SchemaBuilder, types: Types) -> None:
    for code, text in CODES.items():
        builder.add_user_error_code(code, text)
    s = GraphQLNonNull(GraphQLString)
    cr_id = {"id": GraphQLInputField(GraphQLNonNull(GraphQLID), description="ChangeRequest ID.")}
    payload = {"changeRequest": GraphQLField(types.change_request)}
    add_mutation(
        builder,
        "createChangeRequest",
        input_fields={
            "repository": GraphQLInputField(s, description="namespace/repo"),
            "sourceBranch": GraphQLInputField(s),
            "targetBranch": GraphQLInputField(
                GraphQLString, description="Default: the repository's default branch."
            ),
            "title": GraphQLInputField(s),
            "description": GraphQLInputField(GraphQLString, default_value=""),
        },
        payload_fields=payload,
        resolve=_create,
        description="Propose merging a branch (pushed, or written with applyManifests(branch:)).",
    )
    add_mutation(
        builder,
        "reviewChangeRequest",
        input_fields={
            **cr_id,
            "verdict": GraphQLInputField(GraphQLNonNull(types.verdict)),
            "body": GraphQLInputField(GraphQLString, default_value=""),
        },
        payload_fields={**payload, "review": GraphQLField(types.review)},
        resolve=_review,
        description="Approve, request changes or comment (writers; not the author's own approval).",
    )
    add_mutation(
        builder,
        "commentOnChangeRequest",
        input_fields={**cr_id, "body": GraphQLInputField(s)},
        payload_fields={**payload, "comment": GraphQLField(types.comment)},
        resolve=_comment,
        description="Add a comment (writers).",
    )
    add_mutation(
        builder,
        "mergeChangeRequest",
        input_fields={
            **cr_id,
            "expectedHeadSha": GraphQLInputField(
                s, description="The source head that was reviewed; a newer one is STALE_HEAD."
            ),
            "strategy": GraphQLInputField(
                types.strategy, default_value=MergeStrategy.MERGE, description="Default MERGE."
            ),
        },
        payload_fields={
            **payload,
            "mergeSha": GraphQLField(GraphQLString, description="The target's new head."),
        },
        resolve=_merge,
        description="Merge on the server with the push path's validation and policy (writers).",
        once_per_operation=True,
    )
    add_mutation(
        builder,
        "closeChangeRequest",
        input_fields=cr_id,
        payload_fields=payload,
        resolve=_close,
        description="Close without merging (writers).",
    )
    add_mutation(
        builder,
        "setChangeRequestApprovalRule",
        input_fields={
            "repository": GraphQLInputField(s, description="namespace/repo"),
            "requiredApprovals": GraphQLInputField(
                GraphQLNonNull(GraphQLInt),
                description="Maintainer approvals needed to merge into the default branch "
                "(0: no rule).",
            ),
        },
        payload_fields={"requiredApprovals": GraphQLField(GraphQLInt)},
        resolve=_rule,
        description="The repository's merge approval rule (maintainers).",
    )


def _raw(data: dict[str, Any]) -> str:
    from .change_requests import raw_id

    return raw_id(data["id"])


async def _create(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    view = await actions.create(
        ctx.services,
        ctx.require_principal(),
        data["repository"],
        data["sourceBranch"],
        data.get("targetBranch"),
        data["title"],
        data.get("description") or "",
    )
    return {"changeRequest": view}


async def _review(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    verdict = ReviewVerdict(data["verdict"])
    view, note = await actions.review(
        ctx.services, ctx.require_principal(), _raw(data), verdict, data.get("body") or ""
    )
    return {"changeRequest": view, "review": note}


async def _comment(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    view, note = await actions.comment(
        ctx.services, ctx.require_principal(), _raw(data), data["body"]
    )
    return {"changeRequest": view, "comment": note}


async def _merge(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    view = await merging.merge(
        ctx.services,
        ctx.require_principal(),
        _raw(data),
        data["expectedHeadSha"],
        MergeStrategy(data.get("strategy") or MergeStrategy.MERGE),
        request_id=ctx.request_id,
    )
    return {"changeRequest": view, "mergeSha": view.cr.merge_sha}


async def _close(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    view = await actions.close(ctx.services, ctx.require_principal(), _raw(data))
    return {"changeRequest": view}


async def _rule(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    n = data["requiredApprovals"]
    await actions.set_required_approvals(
        ctx.services, ctx.require_principal(), data["repository"], n
    )
    return {"requiredApprovals": n}
