"""The reviewed path through MCP, on both transports: an agent writes to a branch, opens a
change request, reads its field-level diff and validation, comments, cannot approve its own,
is refused a merge of a head it did not review, merges the head it reviewed, waits for the
index, reads the merged price back and reverts the merge."""

from __future__ import annotations

import pytest

from tests.catalog_writes.harness import Stack

from .conftest import Agent, SessionFactory
from .test_agent_session import call, product, refused


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_change_request_session(
    transport: str,
    stack: Stack,
    agent: Agent,
    repo: str,
    worker: object,
    connect: SessionFactory,
) -> None:
    async with connect(transport, agent.write_token) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {
            "open_change_request",
            "get_change_request",
            "comment_on_change_request",
            "review_change_request",
            "merge_change_request",
            "close_change_request",
        } <= tools
        base = await call(
            client,
            "apply_change",
            repository=repo,
            manifests=[product("tee")],
            idempotency_key=f"{transport}-base",
        )
        cheaper = product("tee", price={"amount": "17.99", "currency": "EUR"})
        branch = await call(
            client,
            "apply_change",
            repository=repo,
            manifests=[cheaper],
            idempotency_key=f"{transport}-branch",
            branch="agent/cheaper-tee",
        )
        assert branch["branch"] == "agent/cheaper-tee"
        assert stack.git_head(repo) == base["commit"]  # the default branch did not move

        opened = await call(
            client,
            "open_change_request",
            repository=repo,
            source_branch="agent/cheaper-tee",
            title="Cheaper tee",
            description="Competitor price dropped to 17.99.",
        )
        cr = opened["change_request"]
        assert (cr["state"], cr["headSha"]) == ("OPEN", branch["commit"])
        (entry,) = cr["diff"]
        assert (entry["kind"], entry["name"], entry["op"]) == ("Product", "tee", "CHANGED")
        assert entry["fields"] == [
            {"path": "spec.price.amount", "op": "CHANGED", "old": "19.99", "new": "17.99"}
        ]
        assert cr["validation"]["valid"] is True and cr["mergeability"]["mergeable"] is True

        again = await refused(
            client,
            "open_change_request",
            repository=repo,
            source_branch="agent/cheaper-tee",
            title="Twice",
        )
        assert again.structuredContent["errors"][0]["code"] == "ALREADY_EXISTS"  # type: ignore[index]

        commented = await call(
            client, "comment_on_change_request", id=cr["id"], body="Checked the competitor."
        )
        assert [c["body"] for c in commented["change_request"]["comments"]] == [
            "Checked the competitor."
        ]
        own = await refused(client, "review_change_request", id=cr["id"], verdict="APPROVE")
        assert own.structuredContent["errors"][0]["code"] == "PERMISSION_DENIED"  # type: ignore[index]

        stale = await refused(
            client, "merge_change_request", id=cr["id"], expected_head_sha="0" * 40
        )
        (problem,) = stale.structuredContent["errors"]  # type: ignore[index]
        assert problem["field"] == "expected_head_sha", problem
        assert stack.git_head(repo) == base["commit"]

        read = await call(client, "get_change_request", id=cr["id"])
        merged = await call(
            client,
            "merge_change_request",
            id=cr["id"],
            expected_head_sha=read["change_request"]["headSha"],
            strategy="SQUASH",
        )
        merge_sha = merged["merge_sha"]
        assert merged["change_request"]["state"] == "MERGED"
        assert stack.git_head(repo) == merge_sha

        indexed = await call(
            client, "wait_for_index", repository=repo, commit=merge_sha, timeout=30
        )
        assert (indexed["state"], indexed["resources"]) == ("INDEXED", "INDEXED")
        after = await call(client, "get_resource", repository=repo, kind="Product", name="tee")
        assert after["resource"]["spec"]["price"]["amount"] == "17.99"

        reverted = await call(
            client,
            "revert_commit",
            repository=repo,
            sha=merge_sha,
            idempotency_key=f"{transport}-revert",
        )
        assert reverted["changes"][0]["diff"] == [
            {"path": "spec.price.amount", "op": "CHANGED", "old": "17.99", "new": "19.99"}
        ]
        assert stack.git_head(repo) == reverted["commit"]
