"""A scripted agent session through the SDK's own client, over stdio and streamable HTTP:
discover -> describe -> dry-run -> apply -> read back -> wait for index -> revert, against a
real git service, API and projection worker. Every answer is checked as structured content
(the tools' outputSchema) and against Git itself."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import ClientSession
from mcp.types import CallToolResult

from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import product_spec

from .conftest import Agent, SessionFactory

TOOLS = {
    "whoami",
    "list_repositories",
    "list_kinds",
    "describe_kind",
    "search_resources",
    "get_resource",
    "dry_run_change",
    "apply_change",
    "wait_for_index",
    "revert_commit",
    "release_status",
}


def product(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": product_spec(**spec),
    }


async def call(client: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool call that must succeed; its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.isError, result.content
    assert result.structuredContent is not None
    assert result.structuredContent["ok"] is True
    return result.structuredContent


async def refused(client: ClientSession, tool: str, **arguments: Any) -> CallToolResult:
    result = await client.call_tool(tool, arguments)
    assert result.isError, result.structuredContent
    assert result.structuredContent is not None
    assert result.structuredContent["ok"] is False
    return result


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_agent_session(
    transport: str,
    stack: Stack,
    agent: Agent,
    repo: str,
    worker: object,
    connect: SessionFactory,
) -> None:
    async with connect(transport, agent.write_token) as client:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} >= TOOLS
        assert all(t.outputSchema is not None for t in listed.tools if t.name in TOOLS)

        # discover
        me = await call(client, "whoami")
        assert me["username"] == agent.owner.username
        repos = await call(client, "list_repositories", namespace=repo.split("/")[0])
        assert [r["fullName"] for r in repos["repositories"]] == [repo]
        kinds = await call(client, "list_kinds", repository=repo)
        assert {"Product", "Category", "Collection"} <= {k["kind"] for k in kinds["kinds"]}
        described = await call(client, "describe_kind", repository=repo, kind="product")
        hub = next(v for v in described["kind"]["versions"] if v["storage"])
        assert described["kind"]["hubVersion"] == hub["apiVersion"] == "gitstore.dev/v1"
        assert "title" in hub["schema"]["properties"]
        namespace, name = repo.split("/")
        resource = await client.read_resource(f"gitstore://kinds/{namespace}/{name}/Product")
        assert '"hubVersion": "gitstore.dev/v1"' in resource.contents[0].text  # type: ignore[union-attr]

        # dry run: the field-level diff, nothing committed
        dry = await call(
            client, "dry_run_change", repository=repo, manifests=[product("blue-shirt")]
        )
        assert dry["dry_run"] is True and dry["commit"] is None
        (change,) = dry["changes"]
        assert (change["kind"], change["name"], change["changeType"]) == (
            "Product",
            "blue-shirt",
            "ADDED",
        )
        assert {"path": "spec.title", "op": "ADDED", "old": None, "new": "Blue Shirt"} in change[
            "diff"
        ]
        assert stack.git_head(repo) is None

        # apply (idempotent), read back, wait for the index
        applied = await call(
            client,
            "apply_change",
            repository=repo,
            manifests=[product("blue-shirt")],
            idempotency_key=f"{transport}-step-1",
            message="Add the blue shirt",
        )
        commit = applied["commit"]
        assert applied["committed"] is True and applied["replayed"] is False
        assert stack.git_head(repo) == commit
        again = await call(
            client,
            "apply_change",
            repository=repo,
            manifests=[product("blue-shirt")],
            idempotency_key=f"{transport}-step-1",
            message="Add the blue shirt",
        )
        assert again["replayed"] is True and again["commit"] == commit
        assert stack.commit_count(repo) == 1

        indexed = await call(client, "wait_for_index", repository=repo, commit=commit, timeout=30)
        assert (indexed["state"], indexed["resources"]) == ("INDEXED", "INDEXED")
        # the worker writes the commit's validation status after projecting it: VALID or not yet
        assert indexed["validation"] in ("PENDING", "VALID") and indexed["validation_errors"] == []
        read = await call(
            client, "get_resource", repository=repo, kind="Product", name="blue-shirt"
        )
        assert read["resource"]["spec"]["title"] == "Blue Shirt"
        assert read["version"] == commit
        found = await call(client, "search_resources", repository=repo, kind="Product", text="BLUE")
        assert [i["name"] for i in found["items"]] == ["blue-shirt"]
        none = await call(client, "search_resources", repository=repo, text="no such words")
        assert none["items"] == []

        # a second change based on the version read; a stale version is a CONFLICT
        edited = await call(
            client,
            "apply_change",
            repository=repo,
            manifests=[product("blue-shirt", title="Blue Shirt (new)")],
            idempotency_key=f"{transport}-step-2",
            expected_version=read["version"],
        )
        assert edited["changes"][0]["diff"] == [
            {"path": "spec.title", "op": "CHANGED", "old": "Blue Shirt", "new": "Blue Shirt (new)"}
        ]
        stale = await refused(
            client,
            "apply_change",
            repository=repo,
            manifests=[product("blue-shirt", title="Lost update")],
            idempotency_key=f"{transport}-step-3",
            expected_version=commit,
        )
        (problem,) = stale.structuredContent["errors"]  # type: ignore[index]
        assert problem["code"] == "CONFLICT" and problem["field"] == "expected_version"
        assert "get_resource" in problem["hint"]
        assert stack.git_head(repo) == edited["commit"]

        # revert the edit
        reverted = await call(
            client,
            "revert_commit",
            repository=repo,
            sha=edited["commit"],
            idempotency_key=f"{transport}-step-4",
            wait_for_index=True,
        )
        assert reverted["reverted_commit"] == edited["commit"]
        assert reverted["changes"][0]["diff"] == [
            {"path": "spec.title", "op": "CHANGED", "old": "Blue Shirt (new)", "new": "Blue Shirt"}
        ]
        assert stack.git_head(repo) == reverted["commit"]
        path = applied["changes"][0]["path"]
        assert b"title: Blue Shirt\n" in stack.git_show(repo, path)

        status = await call(client, "release_status", repository=repo)
        assert status["publish_mode"] == "ON_COMMIT" and status["live"] is None
