"""The whole write -> read path over HTTP against ``gitstore serve`` (both configurations):
mutation -> commit -> ref-update event -> worker -> KV -> storefront query."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from gitstore.domain.content import bucket_for

from .conftest import Person, make_user
from .flows import (
    DELETE_PRODUCT,
    HISTORY,
    PRODUCT,
    UPSERT_PRODUCT,
    create_repository,
    ok,
    product_spec,
    products,
    read_product,
    settled_status,
    upsert,
)
from .served import Served


def test_a_new_user_goes_from_login_to_a_storefront_read(served: Served) -> None:
    alice = make_user(served, "alice")
    ok_ns = served.data(
        'mutation { createNamespace(input: {identifier: "alice-shop", tier: ORGANISATION}) '
        "{ namespace { identifier tier } userErrors { code } } }",
        token=alice.token,
    )
    assert ok_ns["createNamespace"]["namespace"] == {
        "identifier": "alice-shop",
        "tier": "ORGANISATION",
    }
    repo = create_repository(served, alice.token, "alice-shop/catalog", visibility="PRIVATE")

    payload = ok(
        upsert(
            served,
            alice.token,
            repo,
            "blue-shirt",
            product_spec(categories=["shirts"]),
            waitForIndex=True,
            idempotencyKey="first-product",
        )
    )
    commit = payload["commit"]
    assert payload["committed"] is True and payload["indexing"]["state"] == "INDEXED"
    assert payload["product"]["version"] == commit
    assert served.head(repo) == commit and served.commit_count(repo) == 1

    # a private repository: anonymous storefront reads do not see it, the owner does
    anonymous = served.gql(PRODUCT, {"r": repo, "n": "blue-shirt"})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    catalog = served.data(PRODUCT, {"r": repo, "n": "blue-shirt"}, alice.token)["catalog"]
    assert catalog["version"] == commit
    assert catalog["product"] == {
        "name": "blue-shirt",
        "title": "Blue Shirt",
        "version": commit,
        "status": "ACTIVE",
        "price": {"amount": "19.99", "currency": "EUR"},
    }
    assert settled_status(served, alice.token, repo, commit)["state"] == "VALID"
    trailers = served.git(repo, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    assert "Actor: alice" in trailers and "Idempotency-Key: first-product" in trailers
    assert served.git(repo, "ls-tree", "-r", "--name-only", commit).split() == [
        ".gitstore/layout",  # a new repository fans out (docs/content-model.md)
        f"products/{bucket_for('blue-shirt')}/blue-shirt.yaml",
    ]


def test_update_then_delete(served: Served, owner: Person, repo: str) -> None:
    first = ok(
        upsert(served, owner.token, repo, "mug", product_spec("Mug", "8.00"), waitForIndex=True)
    )
    ok(
        upsert(
            served, owner.token, repo, "plate", product_spec("Plate", "12.00"), waitForIndex=True
        )
    )
    assert products(served, repo)["totalCount"] == 2

    read = read_product(served, repo, "mug")["product"]
    assert read["version"] == first["commit"]
    updated = ok(
        upsert(
            served,
            owner.token,
            repo,
            "mug",
            product_spec("Mug, large", "9.50"),
            expectedVersion=read["version"],
            waitForIndex=True,
        )
    )
    catalog = read_product(served, repo, "mug")
    assert catalog["version"] == updated["commit"]
    assert catalog["product"]["title"] == "Mug, large"
    assert catalog["product"]["price"] == {"amount": "9.50", "currency": "EUR"}
    assert catalog["product"]["version"] == updated["commit"]

    deleted = served.data(
        DELETE_PRODUCT,
        {"i": {"repository": repo, "name": "mug", "waitForIndex": True}},
        owner.token,
    )["deleteProduct"]
    ok(deleted)
    assert deleted["indexing"]["state"] == "INDEXED"
    catalog = read_product(served, repo, "mug")
    assert catalog["product"] is None and catalog["version"] == deleted["commit"]
    page = products(served, repo)
    assert page["totalCount"] == 1 and [n["name"] for n in page["nodes"]] == ["plate"]
    assert served.commit_count(repo) == 4
    tree = served.git(repo, "ls-tree", "-r", "--name-only", "main").split()
    assert f"products/{bucket_for('plate')}/plate.yaml" in tree
    assert not [p for p in tree if p.endswith("/mug.yaml")]
    for sha in (updated["commit"], deleted["commit"]):
        assert settled_status(served, owner.token, repo, sha)["state"] == "VALID"


def test_twenty_concurrent_retries_make_exactly_one_commit(
    served: Served, owner: Person, repo: str
) -> None:
    variables = {
        "i": {
            "repository": repo,
            "name": "retried",
            "spec": product_spec("Retried"),
            "idempotencyKey": "agent-retry-1",
            "waitForIndex": True,
        }
    }

    def attempt(_: int) -> dict[str, object]:
        response = httpx.post(
            f"{served.url}/graphql",
            json={"query": UPSERT_PRODUCT, "variables": variables},
            headers={"authorization": f"Bearer {owner.token}"},
            timeout=120,
        )
        return response.json()["data"]["upsertProduct"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(attempt, range(20)))
    assert all(a["userErrors"] == [] for a in answers), answers
    assert len({a["commit"] for a in answers}) == 1
    assert sum(1 for a in answers if not a["replayed"]) == 1
    assert served.commit_count(repo) == 1
    history = served.data(HISTORY, {"r": repo, "n": "retried"}, owner.token)["resourceHistory"]
    assert [(h["commit"], h["idempotencyKey"]) for h in history] == [
        (answers[0]["commit"], "agent-retry-1")
    ]
    assert read_product(served, repo, "retried")["product"]["version"] == answers[0]["commit"]


def test_stale_expected_version_is_a_conflict_and_commits_nothing(
    served: Served, owner: Person, repo: str
) -> None:
    v1 = ok(upsert(served, owner.token, repo, "lamp", product_spec("Lamp"), waitForIndex=True))
    v2 = ok(upsert(served, owner.token, repo, "lamp", product_spec("Lamp v2"), waitForIndex=True))
    stale = upsert(
        served,
        owner.token,
        repo,
        "lamp",
        product_spec("Lamp (lost update)"),
        expectedVersion=v1["commit"],
    )
    assert stale["commit"] is None
    [error] = stale["userErrors"]
    assert error["code"] == "CONFLICT" and error["field"] == "expectedVersion"
    assert v2["commit"] in error["message"]
    assert served.head(repo) == v2["commit"] and served.commit_count(repo) == 2
    assert read_product(served, repo, "lamp")["product"]["title"] == "Lamp v2"
