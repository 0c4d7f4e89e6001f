"""Permissions and errors through MCP: a tool can do only what the caller's token can do over
GraphQL, and every refusal is structured (code, field in the tool's arguments, rule, hint)."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.catalog_writes.harness import Stack
from tests.support.graphql_ops import person

from .conftest import SRC, Agent, SessionFactory
from .test_agent_session import call, product, refused


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_a_read_token_cannot_apply(
    transport: str, stack: Stack, agent: Agent, repo: str, connect: SessionFactory
) -> None:
    async with connect(transport, agent.read_token) as client:
        # reading is allowed
        kinds = await call(client, "list_kinds", repository=repo)
        assert "Product" in {k["kind"] for k in kinds["kinds"]}
        for tool, extra in (
            ("apply_change", {"idempotency_key": "read-token-1"}),
            ("dry_run_change", {}),
        ):
            result = await refused(client, tool, repository=repo, manifests=[product("p")], **extra)
            (problem,) = result.structuredContent["errors"]  # type: ignore[index]
            assert problem["code"] == "PERMISSION_DENIED", problem
            assert "write" in problem["message"] and "WRITE scope" in problem["hint"]
            assert result.content[0].text.startswith("PERMISSION_DENIED")  # type: ignore[union-attr]
        result = await refused(client, "revert_commit", repository=repo, sha="0" * 40)
        assert result.structuredContent["errors"][0]["code"] == "PERMISSION_DENIED"  # type: ignore[index]
        result = await refused(
            client, "open_change_request", repository=repo, source_branch="main", title="x"
        )
        assert result.structuredContent["errors"][0]["code"] == "PERMISSION_DENIED"  # type: ignore[index]
    assert stack.git_head(repo) is None


async def test_a_stranger_cannot_see_a_private_repository(
    stack: Stack, repo: str, connect: SessionFactory
) -> None:
    stranger = person(stack.api)
    async with connect("http", stranger.token) as client:
        result = await refused(client, "get_resource", repository=repo, kind="Product", name="p")
        (problem,) = result.structuredContent["errors"]  # type: ignore[index]
        assert problem["code"] == "NOT_FOUND"
        listed = await call(client, "list_repositories", namespace=repo.split("/")[0])
        assert listed["repositories"] == []


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_anonymous_callers_get_unauthenticated(
    transport: str, repo: str, connect: SessionFactory
) -> None:
    async with connect(transport, None) as client:
        me = await call(client, "whoami")
        assert me["username"] is None
        result = await refused(
            client, "apply_change", repository=repo, manifests=[product("p")], idempotency_key="k"
        )
        (problem,) = result.structuredContent["errors"]  # type: ignore[index]
        assert problem["code"] == "UNAUTHENTICATED"
        assert "token" in problem["hint"]


async def test_a_bad_token_is_refused_before_mcp(stack: Stack) -> None:
    body: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{stack.api.base_url}/mcp",
            json=body,
            headers={
                "authorization": "Bearer gst_" + "x" * 43,
                "accept": "application/json, text/event-stream",
            },
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_invalid_manifests_name_the_field_the_rule_and_what_to_change(
    transport: str, stack: Stack, agent: Agent, repo: str, connect: SessionFactory
) -> None:
    bad_price = product("p", price={"amount": "-5", "currency": "EUR"})
    no_title = product("q")
    del no_title["spec"]["title"]
    async with connect(transport, agent.write_token) as client:
        result = await refused(
            client,
            "apply_change",
            repository=repo,
            manifests=[bad_price, no_title],
            idempotency_key="invalid-1",
        )
        problems = result.structuredContent["errors"]  # type: ignore[index]
        by_field = {p["field"]: p for p in problems}
        assert set(by_field) >= {"manifests[0].spec.price.amount", "manifests[1].spec.title"}, (
            problems
        )
        amount = by_field["manifests[0].spec.price.amount"]
        assert (amount["code"], amount["rule"]) == ("VALIDATION_FAILED", "pattern"), amount
        assert "describe_kind" in amount["hint"]
        missing = by_field["manifests[1].spec.title"]
        assert missing["rule"] == "required" and "required" in missing["message"]

        malformed = await refused(
            client,
            "dry_run_change",
            repository=repo,
            manifests=[{"format": "YAML", "content": "kind: [unclosed\n"}],
        )
        (problem,) = malformed.structuredContent["errors"]  # type: ignore[index]
        assert (problem["code"], problem["field"]) == ("MALFORMED_MANIFEST", "manifests[0]")
        assert problem["rule"] == "yaml-syntax", problem

        bad_version = await refused(
            client,
            "apply_change",
            repository=repo,
            manifests=[product("p")],
            idempotency_key="invalid-2",
            expected_version="not-a-sha",
        )
        (problem,) = bad_version.structuredContent["errors"]  # type: ignore[index]
        assert problem["field"] == "expected_version", problem

        # the SDK validates arguments against the tools' input schemas
        missing_key = await client.call_tool(
            "apply_change", {"repository": repo, "manifests": [product("p")]}
        )
        assert missing_key.isError and "idempotency_key" in missing_key.content[0].text  # type: ignore[union-attr]
    assert stack.git_head(repo) is None


async def test_stdio_without_a_reachable_api_answers_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "gitstore", "mcp", "--api-url", f"http://127.0.0.1:{port}"],
        env={"PYTHONPATH": str(SRC), "GITSTORE_TOKEN": "gst_" + "x" * 43},
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        result = await refused(client, "list_kinds", repository="a/b")
        (problem,) = result.structuredContent["errors"]  # type: ignore[index]
        assert problem["code"] == "UNAVAILABLE" and f"127.0.0.1:{port}" in problem["message"]


def test_gitstore_mcp_refuses_a_url_that_is_not_http() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gitstore", "mcp", "--api-url", "ftp://example.com"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC)},
    )
    assert done.returncode == 2
    assert "--api-url must be an http:// or https:// URL" in done.stderr
