"""The GitStore MCP server: tools and resources over a :class:`GraphQLExecutor`.

Each tool runs the GraphQL operation of ``operations`` through the executor the caller's
credentials select (``executor_for(ctx)``), so it can do exactly what the caller's token can
do over GraphQL. Answers are the models below (``outputSchema`` / ``structuredContent``);
``userErrors`` and GraphQL errors become :class:`~.results.Problem`s with the path of the bad
value in the tool's own arguments and a hint (``results``).

Resources: ``gitstore://kinds/{namespace}/{repo}/{kind}`` is a kind's definition with the
JSON Schema of each version (what ``describe_kind`` answers), as JSON.

No ``from __future__ import annotations`` here: FastMCP reads the tools' annotations at
registration to build their input and output schemas.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from . import change_requests
from . import operations as ops
from .executor import GraphQLAnswer, GraphQLExecutor
from .models import (
    Change,
    Indexing,
    Kinds,
    KindSchema,
    ReleaseStatus,
    Repositories,
    ResourceRead,
    Resources,
    Whoami,
)
from .results import Problem, error_of, failed, problem, respond, user_problems

ExecutorFor = Callable[[Context[Any, Any, Any]], Awaitable[GraphQLExecutor]]

INSTRUCTIONS = """GitStore: a Git-backed commerce catalogue. Every change is a Git commit.
Workflow: list_repositories -> list_kinds / describe_kind (the JSON Schema a manifest must
satisfy) -> search_resources / get_resource (note `version`) -> dry_run_change (validation +
field-level diff, nothing committed) -> apply_change (with an idempotency key; pass
expected_version to refuse overwriting someone else's change) -> wait_for_index -> read back.
revert_commit undoes a commit with a new one. For review instead of a direct commit: apply_change
with a branch -> open_change_request (semantic diff, validation) -> review / comment ->
merge_change_request with the headSha reviewed. Errors carry `field` (JSON path in your
arguments), `code`, `rule` and a `hint` saying what to change."""

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=False)
WRITE = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False
)

Repository = Annotated[str, Field(description="<namespace>/<repo>, e.g. acme/catalog")]
Manifests = Annotated[
    list[dict[str, Any]],
    Field(
        description="Manifests to create or replace, one commit. Each is a manifest object "
        "{apiVersion, kind, metadata: {name, labels?}, spec} (see describe_kind), or "
        "{format: YAML|JSON|MARKDOWN, content: '<file text>'}.",
        min_length=1,
    ),
]


def _manifest_inputs(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    inputs = []
    for item in manifests:
        if "content" in item and "kind" not in item:
            inputs.append({"format": item.get("format", "YAML"), "content": item["content"]})
        else:
            inputs.append({"manifest": item})
    return inputs


def _change(payload: dict[str, Any] | None) -> Change:
    payload = payload or {}
    problems = user_problems(payload)
    return Change(
        ok=not problems,
        errors=problems,
        repository=payload.get("repository"),
        branch=payload.get("branch"),
        commit=payload.get("commit"),
        committed=payload.get("committed"),
        dry_run=payload.get("dryRun"),
        replayed=payload.get("replayed"),
        changes=payload.get("changes") or [],
        indexing=payload.get("indexing"),
        reverted_commit=payload.get("revertedCommit"),
    )


def build_server(executor_for: ExecutorFor, **settings: Any) -> FastMCP:
    """The MCP server; ``settings`` go to ``FastMCP`` (transport options)."""
    mcp = FastMCP("gitstore", instructions=INSTRUCTIONS, **settings)

    async def run(
        ctx: Context[Any, Any, Any], query: str, variables: dict[str, Any]
    ) -> GraphQLAnswer:
        return await (await executor_for(ctx)).execute(query, variables)

    @mcp.tool(annotations=READ)
    async def whoami(ctx: Context[Any, Any, Any]) -> Annotated[CallToolResult, Whoami]:
        """Who the token belongs to (null username: no token was sent)."""
        answer = await run(ctx, ops.VIEWER, {})
        if (bad := failed(answer)) is not None:
            return error_of(bad, Whoami)
        viewer = (answer.data or {}).get("viewer") or {}
        return respond(
            Whoami(ok=True, username=viewer.get("username"), is_admin=bool(viewer.get("isAdmin")))
        )

    @mcp.tool(annotations=READ)
    async def list_repositories(
        ctx: Context[Any, Any, Any],
        namespace: Annotated[
            str | None, Field(description="Only this namespace (default: every namespace)")
        ] = None,
    ) -> Annotated[CallToolResult, Repositories]:
        """Repositories (catalogues) the caller may read, with publish mode and branch."""
        names = [namespace] if namespace else None
        if names is None:
            names, after = [], None
            while True:
                answer = await run(ctx, ops.NAMESPACES, {"after": after})
                if (bad := failed(answer)) is not None:
                    return error_of(bad, Repositories)
                page = (answer.data or {})["namespaces"]
                names += [n["identifier"] for n in page["nodes"]]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
        found: list[dict[str, Any]] = []
        for name in names:
            after = None
            while True:
                answer = await run(ctx, ops.REPOSITORIES, {"namespace": name, "after": after})
                if (bad := failed(answer)) is not None:
                    return error_of(bad, Repositories)
                page = (answer.data or {})["repositories"]
                found += page["nodes"]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
        return respond(Repositories(ok=True, repositories=found))

    @mcp.tool(annotations=READ)
    async def list_kinds(
        ctx: Context[Any, Any, Any], repository: Repository
    ) -> Annotated[CallToolResult, Kinds]:
        """The kinds a repository defines (built-in and custom): names, group, versions."""
        answer = await run(ctx, ops.KINDS_BRIEF, {"repository": repository})
        if (bad := failed(answer)) is not None:
            return error_of(bad, Kinds)
        return respond(Kinds(ok=True, kinds=(answer.data or {})["kinds"]))

    async def kind_schema(ctx: Context[Any, Any, Any], repository: str, kind: str) -> KindSchema:
        answer = await run(ctx, ops.KINDS_FULL, {"repository": repository, "kind": kind})
        if (bad := failed(answer)) is not None:
            return KindSchema(ok=False, errors=bad.errors)
        kinds = (answer.data or {})["kinds"]
        if not kinds:
            return KindSchema(
                ok=False,
                errors=[problem("NOT_FOUND", f"{repository} has no kind {kind!r}", "kind")],
            )
        return KindSchema(ok=True, kind=kinds[0])

    @mcp.tool(annotations=READ)
    async def describe_kind(
        ctx: Context[Any, Any, Any],
        repository: Repository,
        kind: Annotated[str, Field(description="e.g. Product")],
    ) -> Annotated[CallToolResult, KindSchema]:
        """A kind's definition: the JSON Schema of spec in each version, which version is
        the hub (storage) version, and the apiVersion to write manifests with."""
        return respond(await kind_schema(ctx, repository, kind))

    @mcp.resource(
        "gitstore://kinds/{namespace}/{repo}/{kind}",
        name="kind-schema",
        description="A kind of a repository with the JSON Schema of each version.",
        mime_type="application/json",
    )
    async def kind_resource(namespace: str, repo: str, kind: str, ctx: Context) -> str:  # type: ignore[type-arg]
        # (a bare ``Context``: FastMCP 1.x injects no request context into a resource
        # template whose parameter is annotated ``Context[...]``)
        result = await kind_schema(ctx, f"{namespace}/{repo}", kind)
        if not result.ok:
            raise ValueError("; ".join(f"{p.code}: {p.message}" for p in result.errors))
        return json.dumps(result.kind, indent=1, ensure_ascii=False)

    @mcp.tool(annotations=READ)
    async def search_resources(
        ctx: Context[Any, Any, Any],
        repository: Repository,
        kind: Annotated[str | None, Field(description="e.g. Product (default: every kind)")] = None,
        label_selector: Annotated[
            str | None, Field(description="Kubernetes-style: a=b,c!=d,e,!f")
        ] = None,
        text: Annotated[
            str | None,
            Field(description="Only resources whose name or spec contains this (any case)."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> Annotated[CallToolResult, Resources]:
        """Resources of the default branch (spec as committed), ordered by kind and name."""
        answer = await run(
            ctx,
            ops.RESOURCES,
            {"repository": repository, "kind": kind, "labelSelector": label_selector},
        )
        if (bad := failed(answer)) is not None:
            return error_of(bad, Resources)
        listed = (answer.data or {})["resources"]
        items = listed["items"]
        if text:
            needle = text.casefold()
            items = [
                i
                for i in items
                if needle in i["name"].casefold()
                or needle in json.dumps(i["spec"], ensure_ascii=False).casefold()
            ]
        return respond(
            Resources(
                ok=True,
                resource_version=listed["resourceVersion"],
                items=items[:limit],
                truncated=len(items) > limit,
            )
        )

    @mcp.tool(annotations=READ)
    async def get_resource(
        ctx: Context[Any, Any, Any],
        repository: Repository,
        kind: Annotated[str, Field(description="e.g. Product")],
        name: Annotated[str, Field(description="metadata.name")],
    ) -> Annotated[CallToolResult, ResourceRead]:
        """One resource (spec from the default branch, status from controllers) and its
        version: the last commit that changed it (pass it as expected_version)."""
        answer = await run(
            ctx, ops.RESOURCE, {"repository": repository, "kind": kind, "name": name}
        )
        if (bad := failed(answer)) is not None:
            return error_of(bad, ResourceRead)
        data = answer.data or {}
        history = data.get("resourceHistory") or []
        last = history[0] if history else None
        return respond(
            ResourceRead(
                ok=True,
                resource=data.get("resource"),
                version=last["commit"] if last else None,
                last_change=last,
            )
        )

    async def apply(ctx: Context[Any, Any, Any], variables: dict[str, Any]) -> CallToolResult:
        answer = await run(ctx, ops.APPLY, {"input": variables})
        if (bad := failed(answer)) is not None:
            return error_of(bad, Change)
        return respond(_change((answer.data or {}).get("applyManifests")))

    @mcp.tool(annotations=READ)
    async def dry_run_change(
        ctx: Context[Any, Any, Any],
        repository: Repository,
        manifests: Manifests,
        branch: Annotated[str | None, Field(description="default: the default branch")] = None,
    ) -> Annotated[CallToolResult, Change]:
        """Validate manifests and show what applying them would change, field by field
        (nothing is committed). Needs a token that may write the repository."""
        return await apply(
            ctx,
            {
                "repository": repository,
                "manifests": _manifest_inputs(manifests),
                "branch": branch,
                "dryRun": True,
            },
        )

    @mcp.tool(annotations=WRITE)
    async def apply_change(
        ctx: Context[Any, Any, Any],
        repository: Repository,
        manifests: Manifests,
        idempotency_key: Annotated[
            str,
            Field(
                description="Unique per change (e.g. agent-run id + step); a retry with the "
                "same key and input returns the first answer and commits nothing new.",
                min_length=1,
            ),
        ],
        expected_version: Annotated[
            str | None,
            Field(
                description="The version get_resource returned: refuse (CONFLICT) if the "
                "resource changed since."
            ),
        ] = None,
        message: Annotated[str | None, Field(description="Commit message")] = None,
        branch: Annotated[str | None, Field(description="default: the default branch")] = None,
        wait_for_index: Annotated[
            bool, Field(description="Answer once storefront reads show the commit")
        ] = False,
        index_timeout: Annotated[float | None, Field(ge=0, le=60)] = None,
    ) -> Annotated[CallToolResult, Change]:
        """Create or replace manifests in one commit (validated first; nothing is committed
        unless every manifest is valid)."""
        return await apply(
            ctx,
            {
                "repository": repository,
                "manifests": _manifest_inputs(manifests),
                "idempotencyKey": idempotency_key,
                "expectedVersion": expected_version,
                "message": message,
                "branch": branch,
                "waitForIndex": wait_for_index,
                "indexTimeout": index_timeout,
            },
        )

    @mcp.tool(annotations=READ)
    async def wait_for_index(
        ctx: Context[Any, Any, Any],
        repository: Repository,
        commit: Annotated[str, Field(description="A full commit id (apply_change's commit)")],
        timeout: Annotated[float, Field(ge=0, le=60)] = 10.0,
    ) -> Annotated[CallToolResult, Indexing]:
        """Wait until reads show a commit — storefront (DRAFT) reads (state) and
        get_resource/search_resources (resources) — up to timeout seconds (then PENDING,
        not an error), with the worker's validation verdict on the commit."""
        answer = await run(
            ctx, ops.INDEXING, {"repository": repository, "commit": commit, "wait": timeout}
        )
        if (bad := failed(answer)) is not None:
            return error_of(bad, Indexing)
        data = answer.data or {}
        status = data.get("commitStatus") or {}
        return respond(
            Indexing(
                ok=True,
                commit=commit,
                state=data["indexing"]["state"],
                resources=data["indexing"]["resources"],
                validation=status.get("state"),
                validation_errors=status.get("errors") or [],
            )
        )

    @mcp.tool(annotations=WRITE)
    async def revert_commit(
        ctx: Context[Any, Any, Any],
        repository: Repository,
        sha: Annotated[str, Field(description="The commit to undo (7+ hex digits)")],
        idempotency_key: Annotated[str | None, Field(description="As for apply_change")] = None,
        dry_run: Annotated[bool, Field(description="Only show what it would change")] = False,
        message: Annotated[str | None, Field(description="Commit message")] = None,
        wait_for_index: bool = False,
    ) -> Annotated[CallToolResult, Change]:
        """Undo one earlier commit with a new commit (refused with CONFLICT if its files
        changed since: revert the later commit first)."""
        answer = await run(
            ctx,
            ops.REVERT,
            {
                "input": {
                    "repository": repository,
                    "sha": sha,
                    "idempotencyKey": idempotency_key,
                    "dryRun": dry_run,
                    "message": message,
                    "waitForIndex": wait_for_index,
                }
            },
        )
        if (bad := failed(answer)) is not None:
            return error_of(bad, Change)
        return respond(_change((answer.data or {}).get("revertCommit")))

    @mcp.tool(annotations=READ)
    async def release_status(
        ctx: Context[Any, Any, Any], repository: Repository
    ) -> Annotated[CallToolResult, ReleaseStatus]:
        """How the repository publishes (ON_COMMIT or ON_RELEASE_TAG), the live release,
        the latest releases and publications."""
        answer = await run(ctx, ops.RELEASES, {"repository": repository})
        if (bad := failed(answer)) is not None:
            return error_of(bad, ReleaseStatus)
        data = answer.data or {}
        repo = data.get("repository")
        if repo is None:
            return respond(
                ReleaseStatus(
                    ok=False,
                    errors=[problem("NOT_FOUND", f"no repository {repository}", "repository")],
                )
            )
        return respond(
            ReleaseStatus(
                ok=True,
                publish_mode=repo["publishMode"],
                release_patterns=repo["releasePatterns"],
                live=data.get("liveRelease"),
                releases=data["releases"]["nodes"],
                publications=data["publications"]["nodes"],
            )
        )

    change_requests.register(mcp, run)
    return mcp


__all__ = ["ExecutorFor", "Problem", "build_server"]
