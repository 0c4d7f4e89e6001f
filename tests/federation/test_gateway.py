"""The store endpoint composes with a second subgraph and serves queries through a gateway.

``js/gateway.mjs`` runs the real Apollo toolchain — ``@apollo/composition``,
``@apollo/gateway``, ``@apollo/server`` and a reviews subgraph written with
``@apollo/subgraph`` (``Product @key(fields: "id") { reviews }``), see ``gateway.py``. The
GitStore side is a real API server with a git service and a worker; ``test_serve.py`` does
the same against ``gitstore serve``.
"""

from __future__ import annotations

from tests.catalog_writes.harness import Stack
from tests.federation.conftest import Catalogue
from tests.federation.gateway import run_gateway

SPANNING = """
{ catalog { products(first: 10) { nodes { name title reviews { stars body } } } } }
"""
FROM_REVIEWS = """
{ topReviews { stars product { name title } } }
"""
CUSTOM_KIND = """
{ acmeExample { brand(name: "acme") { id title } } }
"""


def test_composes_and_a_query_spans_both_subgraphs(
    node: str, stack: Stack, catalogue: Catalogue
) -> None:
    ids = catalogue.ids
    reviews = {
        ids["Product/blue-shirt"]: [
            {"stars": 5, "body": "Fits well"},
            {"stars": 3, "body": "Too blue"},
        ]
    }
    url = f"{stack.api.base_url}/{catalogue.repo}/graphql"
    result = run_gateway(
        node,
        url,
        reviews,
        {"spanning": SPANNING, "fromReviews": FROM_REVIEWS, "custom": CUSTOM_KIND},
    )
    assert result["composed"] is True, result.get("errors")
    assert 'join__type(graph: GITSTORE, key: "id")' in result["supergraph"]
    assert 'join__type(graph: REVIEWS, key: "id")' in result["supergraph"]
    results = result["results"]
    # GitStore first (catalog), then the reviews subgraph by Product.id
    assert "errors" not in results["spanning"], results["spanning"]
    assert results["spanning"]["data"]["catalog"]["products"]["nodes"] == [
        {
            "name": "blue-shirt",
            "title": "Blue Shirt",
            "reviews": [{"stars": 5, "body": "Fits well"}, {"stars": 3, "body": "Too blue"}],
        },
        {"name": "red-shirt", "title": "Red Shirt", "reviews": []},
    ]
    # the reviews subgraph first, then GitStore's _entities for the products
    assert "errors" not in results["fromReviews"], results["fromReviews"]
    assert results["fromReviews"]["data"]["topReviews"] == [
        {"stars": 5, "product": {"name": "blue-shirt", "title": "Blue Shirt"}},
        {"stars": 3, "product": {"name": "blue-shirt", "title": "Blue Shirt"}},
    ]
    # custom kinds are served through the gateway too
    assert results["custom"]["data"]["acmeExample"]["brand"] == {
        "id": ids["Brand/acme"],
        "title": "Acme",
    }


def test_composition_failure_is_reported(node: str, stack: Stack, catalogue: Catalogue) -> None:
    """The harness itself can fail: a reviews subgraph claiming Product.title without
    @shareable does not compose with GitStore's Product."""
    url = f"{stack.api.base_url}/{catalogue.repo}/graphql"
    result = run_gateway(node, url, {}, {}, conflict=True)
    assert result["composed"] is False
    assert any("title" in error for error in result["errors"]), result
