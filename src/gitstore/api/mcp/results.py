"""What MCP tools answer: structured results, and problems an agent can act on.

Every tool answers a model derived from :class:`ToolResult` (its JSON Schema is the tool's
``outputSchema``; the answer is ``structuredContent``): ``ok`` and ``errors``, plus the
tool's own fields. A failure is the same model with ``ok: false`` and ``isError: true``.

Each :class:`Problem` comes from a mutation's ``userErrors`` or a GraphQL error: ``code``
(``VALIDATION_FAILED``, ``CONFLICT``, ``PERMISSION_DENIED``, ...), ``message`` (the API's,
which names the value and the rule it broke), ``field`` — the JSON path *in the tool's
arguments* (``manifests[0].spec.price.amount``, ``expected_version``) — ``rule`` (the
validation rule, when the API names one) and ``hint``: what to change before trying again.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from .executor import GraphQLAnswer


class Problem(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. VALIDATION_FAILED.")
    message: str = Field(description="What is wrong, naming the value and the rule.")
    field: str | None = Field(
        default=None, description="JSON path of the bad value in the tool's arguments."
    )
    rule: str | None = Field(default=None, description="The rule broken, when known.")
    hint: str = Field(description="What to change before retrying.")


class ToolResult(BaseModel):
    ok: bool = Field(description="False: nothing was done; see errors.")
    errors: list[Problem] = Field(default_factory=list)


# GraphQL input names -> the tools' argument names
_ARGUMENTS = {
    "idempotencyKey": "idempotency_key",
    "expectedVersion": "expected_version",
    "indexTimeout": "index_timeout",
    "labelSelector": "label_selector",
    "dryRun": "dry_run",
    "waitForIndex": "wait_for_index",
    "wait": "timeout",
    "sourceBranch": "source_branch",
    "targetBranch": "target_branch",
    "expectedHeadSha": "expected_head_sha",
}

HINTS = {
    "VALIDATION_FAILED": "Fix the value at `field` so it satisfies the kind's JSON Schema "
    "(describe_kind shows it), then dry-run again.",
    "MALFORMED_MANIFEST": "The manifest could not be read: fix its syntax (line and column are "
    "in the message) or pass it as a JSON object.",
    "TOO_LARGE": "Make the manifest smaller (long descriptions, many variants).",
    "INVALID_ARGUMENT": "Correct the argument named in `field` as the message says.",
    "CONFLICT": "Someone changed it since your version: read it again (get_resource), redo "
    "your change on the current content and pass the new version as expected_version.",
    "IDEMPOTENCY_KEY_REUSED": "This idempotency key was used for a different change: use a "
    "new key for a new change (reuse a key only to retry the same change).",
    "NOT_FOUND": "Check the name (list_repositories, list_kinds, search_resources); a private "
    "repository you may not read also looks missing.",
    "PERMISSION_DENIED": "Your token may not do this: a READ token cannot write (create a "
    "token with the WRITE scope), or your user lacks the namespace role; ask a maintainer.",
    "UNAUTHENTICATED": "Send a valid personal access token (Authorization: Bearer gst_..., "
    "or GITSTORE_TOKEN for `gitstore mcp`); it may be expired or revoked.",
    "FAILED_PRECONDITION": "The repository is not in a state that allows this (see the "
    "message); resolve that first.",
    "ABORTED": "A concurrent change won a race: retry with the same idempotency key.",
    "UNAVAILABLE": "A GitStore service is down or unreachable: retry later.",
    "ALREADY_EXISTS": "It exists already: read it instead of creating it (a change request "
    "from this branch is open: get_change_request).",
    "STALE_HEAD": "The branch moved since you reviewed it: get_change_request again, review "
    "the new diff and pass its headSha as expected_head_sha.",
    "APPROVALS_REQUIRED": "Merging into the default branch needs approvals from maintainers "
    "(not the author): ask for a review.",
    "NOT_MERGEABLE": "The request is not open, or FAST_FORWARD is impossible: see "
    "mergeability in get_change_request (use MERGE or SQUASH).",
}
_DEFAULT_HINT = "Read the message, change the input it names, and retry."


def problem(
    code: str | None, message: str, field: str | None = None, rule: str | None = None
) -> Problem:
    code = code or "ERROR"
    if field is not None:
        head, sep, rest = field.partition(".")
        field = _ARGUMENTS.get(head, head) + sep + rest
    return Problem(
        code=code, message=message, field=field, rule=rule, hint=HINTS.get(code, _DEFAULT_HINT)
    )


def graphql_problems(answer: GraphQLAnswer) -> list[Problem]:
    """One problem per distinct GraphQL error (an operation with two root fields on one
    private repository fails twice the same way)."""
    found: dict[tuple[Any, ...], Problem] = {}
    for error in answer.errors:
        extensions = error.get("extensions") or {}
        code, field = extensions.get("code"), extensions.get("field")
        message = str(error.get("message") or "request failed")
        found.setdefault((code, field, message), problem(code, message, field))
    return list(found.values())


def user_problems(payload: dict[str, Any] | None) -> list[Problem]:
    return [
        problem(e.get("code"), str(e.get("message")), e.get("field"), e.get("rule"))
        for e in (payload or {}).get("userErrors") or []
    ]


def failed(answer: GraphQLAnswer) -> ToolResult | None:
    """The failure of an operation's answer (GraphQL errors, no data), or None."""
    if answer.errors:
        return ToolResult(ok=False, errors=graphql_problems(answer))
    if answer.data is None:
        return ToolResult(ok=False, errors=[problem("UNAVAILABLE", "the API answered no data")])
    return None


def error_of(result: ToolResult, model: type[ToolResult]) -> CallToolResult:
    """``result``'s problems as a refusal in the shape of ``model`` (the tool's schema)."""
    return respond(model(ok=False, errors=result.errors))


def respond(result: ToolResult) -> CallToolResult:
    """The MCP answer: the model as structured content, and as text for clients that only
    show text; ``isError`` when something went wrong."""
    body = result.model_dump(mode="json")
    if result.ok:
        text = json.dumps(body, indent=1, ensure_ascii=False)
    else:
        text = "; ".join(
            f"{p.code}{' at ' + p.field if p.field else ''}: {p.message} (hint: {p.hint})"
            for p in result.errors
        )
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structuredContent=body,
        isError=not result.ok,
    )
