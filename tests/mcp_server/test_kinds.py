"""Custom kinds through MCP: an agent defines a kind, then discovers it (``list_kinds``,
``describe_kind``, the ``gitstore://kinds/...`` resource), writes a resource of it, and a
resource that breaks the kind's schema is refused naming the field and rule. Also the
GraphQL underneath (``kinds``, ``indexing``) and its argument errors."""

from __future__ import annotations

import json

from tests.catalog_writes.harness import Stack
from tests.support.graphql_ops import execute
from tests.support.kinds import brand, brand_kind

from .conftest import Agent, SessionFactory
from .test_agent_session import call, refused


async def test_a_custom_kind_is_discovered_and_enforced(
    stack: Stack, agent: Agent, repo: str, connect: SessionFactory
) -> None:
    async with connect("http", agent.write_token) as client:
        before = await call(client, "list_kinds", repository=repo)
        assert "Brand" not in {k["kind"] for k in before["kinds"]}
        await call(
            client,
            "apply_change",
            repository=repo,
            manifests=[brand_kind()],
            idempotency_key="define-brand",
        )
        kinds = await call(client, "list_kinds", repository=repo)
        (brand_info,) = [k for k in kinds["kinds"] if k["kind"] == "Brand"]
        assert brand_info["builtin"] is False and brand_info["hubVersion"] == "acme.example/v1"
        assert "schema" not in brand_info["versions"][0]  # list_kinds is the short form

        described = await call(client, "describe_kind", repository=repo, kind="Brand")
        (v1,) = described["kind"]["versions"]
        assert v1["schema"]["required"] == ["title"] and v1["storage"] is True

        namespace, name = repo.split("/")
        read = await client.read_resource(f"gitstore://kinds/{namespace}/{name}/Brand")
        assert json.loads(read.contents[0].text)["versions"][0]["schema"] == v1["schema"]  # type: ignore[union-attr]

        written = await call(
            client,
            "apply_change",
            repository=repo,
            manifests=[brand("acme")],
            idempotency_key="brand-acme",
        )
        assert written["changes"][0]["kind"] == "Brand"
        bad = await refused(
            client,
            "apply_change",
            repository=repo,
            manifests=[brand("nameless", country="NL")],
            idempotency_key="brand-bad",
        )
        (problem,) = bad.structuredContent["errors"]  # type: ignore[index]
        assert (problem["field"], problem["rule"]) == ("manifests[0].spec.title", "required")

        unknown = await refused(client, "describe_kind", repository=repo, kind="Nope")
        assert unknown.structuredContent["errors"][0]["field"] == "kind"  # type: ignore[index]


KINDS = "query($r: String!) { kinds(repository: $r) { kind builtin } }"
INDEXING = """query($r: String!, $c: String!, $w: Float) {
  indexing(repository: $r, commit: $c, wait: $w) { state resources }
}"""


def test_kinds_and_indexing_over_graphql(stack: Stack, agent: Agent, repo: str) -> None:
    kinds = execute(stack.api, KINDS, {"r": repo}, agent.owner.token)["kinds"]
    # the built-ins, KindDefinition included (an agent may define kinds), nothing custom
    assert {"Category", "Collection", "Product", "KindDefinition"} <= {k["kind"] for k in kinds}
    assert all(k["builtin"] for k in kinds)
    # a private repository: NOT_FOUND for anyone else
    answer = stack.api.graphql(KINDS, {"r": repo}).json()
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    pending = execute(stack.api, INDEXING, {"r": repo, "c": "a" * 40}, agent.owner.token)
    assert pending["indexing"] == {"state": "PENDING", "resources": "PENDING"}
    for variables, field in (
        ({"r": repo, "c": "abc"}, "commit"),
        ({"r": repo, "c": "a" * 40, "w": 61.0}, "wait"),
    ):
        answer = stack.api.graphql(INDEXING, variables, token=agent.owner.token).json()
        assert answer["errors"][0]["extensions"]["code"] == "INVALID_ARGUMENT"
        assert field in answer["errors"][0]["message"]
