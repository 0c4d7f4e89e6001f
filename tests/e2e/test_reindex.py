"""``gitstore repo reindex`` and the shadow re-index GraphQL fields on a running ``gitstore
serve`` (real API over HTTP, real git service, real worker, embedded SQLite KV and queue)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import Person, deployment, make_user
from .flows import create_namespace, create_repository, ok, product_spec, upsert
from .served import Served

STATE = "query($r: String!) { shadowReindex(repository: $r) }"
PRODUCTS = (
    "query($r: String!) { catalog(repository: $r) { products(first: 10) { nodes { name } } } }"
)
START = """mutation($i: StartShadowReindexInput!) {
  startShadowReindex(input: $i) { id userErrors { field message code } } }"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with deployment("embedded", tmp_path_factory.mktemp("reindex") / "data") as served:
        yield served


@pytest.fixture(scope="module")
def admin(stack: Served) -> Person:
    person = make_user(stack, "boss", admin=True)
    create_namespace(stack, person.token, "shop")
    return person


def test_reindex_of_an_unchanged_repository_switches(stack: Served, admin: Person) -> None:
    repo = create_repository(stack, admin.token, "shop/one")
    for name in ("red", "blue", "green"):
        ok(upsert(stack, admin.token, repo, name, product_spec(name), waitForIndex=True))
    done = stack.cli(
        "repo", "reindex", repo, "--url", stack.url, "--token", admin.token, "--poll", "0.1"
    )
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{repo}: re-index ") and lines[0].endswith(" SWITCHED"), lines
    assert any(line.strip().startswith("draft at ") and line.endswith(": equal") for line in lines)
    assert any(line.split()[:3] == ["product", "3", "->"] for line in lines), lines
    assert "requested" in done.stderr
    state = stack.data(STATE, {"r": repo}, admin.token)["shadowReindex"]
    assert state["state"] == "SWITCHED"
    assert state["views"]["draft"]["comparison"]["counts"]["product"] == {"live": 3, "shadow": 3}
    read = stack.data(PRODUCTS, {"r": repo})["catalog"]["products"]["nodes"]
    assert [n["name"] for n in read] == ["blue", "green", "red"]  # readers see the switched buffer


def test_reindex_needs_a_maintainer(stack: Served, admin: Person) -> None:
    repo = create_repository(stack, admin.token, "shop/two")
    reader = make_user(stack, "reader")
    payload = stack.data(START, {"i": {"repository": repo}}, reader.token)["startShadowReindex"]
    assert payload["id"] is None
    assert payload["userErrors"][0]["code"] == "PERMISSION_DENIED", payload
    refused = stack.cli("repo", "reindex", repo, "--url", stack.url, "--token", reader.token)
    assert refused.returncode != 0 and "maintainer" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    nothing = stack.cli(
        "repo", "reindex", repo, "--abandon", "--url", stack.url, "--token", admin.token
    )
    assert nothing.returncode != 0 and "no unfinished re-index" in nothing.stderr, nothing.stderr
