"""What each MCP tool answers (its ``outputSchema``): a :class:`ToolResult` with its own fields.

Field names are the tools' (snake_case); nested objects are the GraphQL answers as they
come (camelCase), e.g. ``changes[].diff[].path``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .results import ToolResult


class Whoami(ToolResult):
    username: str | None = Field(default=None, description="null: anonymous")
    is_admin: bool = False


class Repositories(ToolResult):
    repositories: list[dict[str, Any]] = Field(default_factory=list)


class Kinds(ToolResult):
    kinds: list[dict[str, Any]] = Field(default_factory=list)


class KindSchema(ToolResult):
    kind: dict[str, Any] | None = Field(
        default=None, description="Names, hub version and each version's JSON Schema."
    )


class Resources(ToolResult):
    resource_version: str | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
    truncated: bool = Field(default=False, description="More matched than limit.")


class ResourceRead(ToolResult):
    resource: dict[str, Any] | None = Field(default=None, description="null: none")
    version: str | None = Field(
        default=None,
        description="The last commit that changed it: pass as expected_version to apply.",
    )
    last_change: dict[str, Any] | None = None


class Change(ToolResult):
    repository: str | None = None
    branch: str | None = None
    commit: str | None = Field(default=None, description="The new commit (null: dry run).")
    committed: bool | None = None
    dry_run: bool | None = None
    replayed: bool | None = Field(default=None, description="An earlier answer for the key.")
    changes: list[dict[str, Any]] = Field(
        default_factory=list, description="Per file: kind, name, changeType, field-level diff."
    )
    indexing: dict[str, Any] | None = None
    reverted_commit: str | None = None


class Indexing(ToolResult):
    commit: str | None = None
    state: Literal["INDEXED", "PENDING"] | None = Field(
        default=None, description="INDEXED: storefront (DRAFT) reads show the commit."
    )
    resources: Literal["INDEXED", "PENDING"] | None = Field(
        default=None, description="INDEXED: get_resource / search_resources show it."
    )
    validation: str | None = Field(
        default=None, description="The worker's verdict: PENDING, VALID or INVALID."
    )
    validation_errors: list[dict[str, Any]] = Field(default_factory=list)


class ReleaseStatus(ToolResult):
    publish_mode: str | None = None
    release_patterns: list[str] = Field(default_factory=list)
    live: dict[str, Any] | None = Field(default=None, description="The release LIVE shows.")
    releases: list[dict[str, Any]] = Field(default_factory=list)
    publications: list[dict[str, Any]] = Field(default_factory=list)


class ChangeRequestResult(ToolResult):
    change_request: dict[str, Any] | None = Field(
        default=None,
        description="id, number, state, branches, headSha, diff (per resource, field by "
        "field), validation, mergeability, approvals, reviews, comments.",
    )
    merge_sha: str | None = Field(
        default=None, description="merge_change_request: the target's new head."
    )
