"""Change-request tools: open, read (semantic diff, validation, mergeability), comment,
review, merge and close — each one GraphQL operation (docs/change-requests.md)."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from .executor import GraphQLAnswer
from .models import ChangeRequestResult
from .results import error_of, failed, problem, respond, user_problems

Run = Callable[[Context[Any, Any, Any], str, dict[str, Any]], Awaitable[GraphQLAnswer]]

CR = """
  id number state sourceBranch targetBranch title description author headSha baseSha mergeSha
  diff { kind name op path oldPath fields { path op old new } }
  validation { headSha valid validatedFiles violations { path field rule message } }
  mergeability { mergeable fastForwardPossible reason
                 conflicts { kind name path field reason base target source message } }
  approvals { required missing }
  reviews { author verdict body headSha createdAt } comments { author body createdAt }
"""
GET = f"query($id: ID!) {{ changeRequest(id: $id) {{ {CR} }} }}"


def _mutation(name: str, extra: str = "") -> str:
    input_type = name[0].upper() + name[1:] + "Input"
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{"
        f" changeRequest {{ {CR} }} {extra} userErrors {{ field message code rule }} }} }}"
    )


CREATE = _mutation("createChangeRequest")
COMMENT = _mutation("commentOnChangeRequest")
REVIEW = _mutation("reviewChangeRequest")
MERGE = _mutation("mergeChangeRequest", "mergeSha")
CLOSE = _mutation("closeChangeRequest")

Id = Annotated[str, Field(description="The change request's id (from open_change_request)")]
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)
READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)


def register(mcp: FastMCP, run: Run) -> None:

    async def mutate(
        ctx: Context[Any, Any, Any], query: str, name: str, variables: dict[str, Any]
    ) -> CallToolResult:
        answer = await run(ctx, query, {"input": variables})
        if (bad := failed(answer)) is not None:
            return error_of(bad, ChangeRequestResult)
        payload = (answer.data or {}).get(name) or {}
        problems = user_problems(payload)
        return respond(
            ChangeRequestResult(
                ok=not problems,
                errors=problems,
                change_request=payload.get("changeRequest"),
                merge_sha=payload.get("mergeSha"),
            )
        )

    @mcp.tool(annotations=WRITE)
    async def open_change_request(
        ctx: Context[Any, Any, Any],
        repository: Annotated[str, Field(description="<namespace>/<repo>")],
        source_branch: Annotated[str, Field(description="The branch with the changes")],
        title: str,
        description: Annotated[str, Field(description="Why: what a reviewer should know")] = "",
        target_branch: Annotated[str | None, Field(description="default: default branch")] = None,
    ) -> Annotated[CallToolResult, ChangeRequestResult]:
        """Propose merging a branch (written with apply_change(branch=...)) for review; the
        answer has the semantic diff, validation and mergeability."""
        variables = {
            "repository": repository,
            "sourceBranch": source_branch,
            "title": title,
            "description": description,
        }
        if target_branch:
            variables["targetBranch"] = target_branch
        return await mutate(ctx, CREATE, "createChangeRequest", variables)

    @mcp.tool(annotations=READ)
    async def get_change_request(
        ctx: Context[Any, Any, Any], id: Id
    ) -> Annotated[CallToolResult, ChangeRequestResult]:
        """A change request: state, head, field-level diff, validation, mergeability,
        approvals, reviews and comments."""
        answer = await run(ctx, GET, {"id": id})
        if (bad := failed(answer)) is not None:
            return error_of(bad, ChangeRequestResult)
        found = (answer.data or {}).get("changeRequest")
        if found is None:
            return respond(
                ChangeRequestResult(
                    ok=False, errors=[problem("NOT_FOUND", f"no change request {id}", "id")]
                )
            )
        return respond(ChangeRequestResult(ok=True, change_request=found))

    @mcp.tool(annotations=WRITE)
    async def comment_on_change_request(
        ctx: Context[Any, Any, Any], id: Id, body: str
    ) -> Annotated[CallToolResult, ChangeRequestResult]:
        """Add a comment."""
        return await mutate(ctx, COMMENT, "commentOnChangeRequest", {"id": id, "body": body})

    @mcp.tool(annotations=WRITE)
    async def review_change_request(
        ctx: Context[Any, Any, Any],
        id: Id,
        verdict: Literal["APPROVE", "REQUEST_CHANGES", "COMMENT"],
        body: str = "",
    ) -> Annotated[CallToolResult, ChangeRequestResult]:
        """Review (not your own for APPROVE / REQUEST_CHANGES)."""
        return await mutate(
            ctx, REVIEW, "reviewChangeRequest", {"id": id, "verdict": verdict, "body": body}
        )

    @mcp.tool(annotations=WRITE)
    async def merge_change_request(
        ctx: Context[Any, Any, Any],
        id: Id,
        expected_head_sha: Annotated[
            str, Field(description="The headSha you reviewed (refused if the branch moved)")
        ],
        strategy: Literal["MERGE", "SQUASH", "FAST_FORWARD"] = "MERGE",
    ) -> Annotated[CallToolResult, ChangeRequestResult]:
        """Merge on the server (three-way merge of manifests, validated like a push);
        merge_sha is the target's new head (wait_for_index it, revert_commit it)."""
        return await mutate(
            ctx,
            MERGE,
            "mergeChangeRequest",
            {"id": id, "expectedHeadSha": expected_head_sha, "strategy": strategy},
        )

    @mcp.tool(annotations=WRITE)
    async def close_change_request(
        ctx: Context[Any, Any, Any], id: Id
    ) -> Annotated[CallToolResult, ChangeRequestResult]:
        """Close without merging."""
        return await mutate(ctx, CLOSE, "closeChangeRequest", {"id": id})
