"""Rule-based collections end to end: manifests committed through ``applyManifests``,
projected by the worker, read through ``catalog { products(filter: {collection}) }`` — the
storefront sees rule matches without the products naming the collection."""

from __future__ import annotations

from typing import Any

from .conftest import Person
from .flows import APPLY, WRITE, all_products, ok
from .served import Served

DELETE_COLLECTION = f"""mutation($i: DeleteCollectionInput!) {{ deleteCollection(input: $i) {{
  {WRITE} deletedId }} }}"""


def manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "YAML",
        "manifest": {
            "apiVersion": "gitstore.dev/v1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        },
    }


def shirt(name: str, amount: str, *tags: str, status: str = "active") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "title": name.replace("-", " ").title(),
        "status": status,
        "price": {"amount": amount, "currency": "EUR"},
    }
    if tags:
        spec["tags"] = list(tags)
    return manifest("Product", name, spec)


def rules(name: str, *items: tuple[str, str, str], any_rule: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "title": name.title(),
        "rules": [{"field": f, "relation": r, "condition": c} for f, r, c in items],
    }
    if any_rule:
        spec["appliedDisjunctively"] = True
    return manifest("Collection", name, spec)


def apply(served: Served, owner: Person, repo: str, *manifests: dict[str, Any]) -> None:
    variables = {"i": {"repository": repo, "manifests": list(manifests), "waitForIndex": True}}
    payload = ok(served.data(APPLY, variables, owner.token)["applyManifests"])
    assert payload["indexing"]["state"] == "INDEXED", payload


def test_storefront_reads_rule_based_collections(served: Served, owner: Person, repo: str) -> None:
    apply(
        served,
        owner,
        repo,
        shirt("linen-shirt", "19.00", "Summer"),
        shirt("wool-sweater", "89.00", "winter"),
        shirt("cotton-tee", "9.00"),
        shirt("silk-scarf", "15.00", "summer", status="draft"),
        rules("summer", ("tag", "equals", "summer")),
        rules("cheap-active", ("price", "lessThan", "20"), ("status", "equals", "active")),
        rules("either", ("tag", "equals", "winter"), ("price", "lessThan", "10"), any_rule=True),
    )
    assert all_products(served, repo, page_size=1, collection="summer") == [
        "linen-shirt",
        "silk-scarf",
    ]
    assert all_products(served, repo, collection="summer", status="ACTIVE") == ["linen-shirt"]
    assert all_products(served, repo, collection="cheap-active") == ["cotton-tee", "linen-shirt"]
    assert all_products(served, repo, collection="either") == ["cotton-tee", "wool-sweater"]

    # The rules change: existing products are re-indexed; a product changes: it moves.
    apply(
        served,
        owner,
        repo,
        rules("summer", ("tag", "equals", "summer"), ("status", "equals", "active")),
        shirt("cotton-tee", "9.00", "summer"),
    )
    assert all_products(served, repo, collection="summer") == ["cotton-tee", "linen-shirt"]

    # Deleted: nothing is in it any more.
    variables = {"i": {"repository": repo, "name": "summer", "waitForIndex": True}}
    deleted = ok(served.data(DELETE_COLLECTION, variables, owner.token)["deleteCollection"])
    assert deleted["indexing"]["state"] == "INDEXED"
    assert all_products(served, repo, collection="summer") == []


COLLECTIONS_OF = """query($r: String!) { catalog(repository: $r) {
  products(first: 10) { nodes { name collections } } } }"""


PRODUCT_COLLECTIONS = """query($r: String!, $n: String!) { catalog(repository: $r) {
  product(name: $n) { collections } } }"""


def collections_of(served: Served, repo: str) -> dict[str, list[str]]:
    """``collections`` of every product, by product name."""
    nodes = served.data(COLLECTIONS_OF, {"r": repo})["catalog"]["products"]["nodes"]
    return {node["name"]: node["collections"] for node in nodes}


def test_a_product_lists_every_collection_it_is_in(
    served: Served, owner: Person, repo: str
) -> None:
    named = shirt("linen-shirt", "19.00", "summer")
    named["manifest"]["spec"]["collections"] = ["featured"]
    apply(
        served,
        owner,
        repo,
        named,
        shirt("wool-sweater", "89.00", "winter"),
        shirt("cotton-tee", "9.00"),
        rules("summer", ("tag", "equals", "summer")),
        rules("cheap", ("price", "lessThan", "20")),
        manifest("Collection", "featured", {"title": "Featured", "products": ["cotton-tee"]}),
    )
    # By rule, by naming the collection, by being listed in it; in none at all.
    assert collections_of(served, repo) == {
        "cotton-tee": ["cheap", "featured"],
        "linen-shirt": ["cheap", "featured", "summer"],
        "wool-sweater": [],
    }
    one = served.data(PRODUCT_COLLECTIONS, {"r": repo, "n": "linen-shirt"})["catalog"]
    assert one["product"]["collections"] == ["cheap", "featured", "summer"]

    # The product changes so that it matches no rule any more: the rule-based collections are
    # gone from it (the one it names stays), and the filters agree.
    changed = shirt("linen-shirt", "29.00", "autumn")
    changed["manifest"]["spec"]["collections"] = ["featured"]
    apply(served, owner, repo, changed)
    assert collections_of(served, repo)["linen-shirt"] == ["featured"]
    assert all_products(served, repo, collection="summer") == []
    assert all_products(served, repo, collection="cheap") == ["cotton-tee"]

    # A collection's rules change (the products do not): the membership read right after
    # follows (the membership cache is keyed by the scope's head, which every batch moves).
    apply(served, owner, repo, rules("cheap", ("price", "lessThan", "50")))
    assert collections_of(served, repo) == {
        "cotton-tee": ["cheap", "featured"],
        "linen-shirt": ["cheap", "featured"],
        "wool-sweater": [],
    }
