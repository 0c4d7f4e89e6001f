"""``resourceStatus`` beside the spec on catalogue types: the whole status for the repository's
people, nothing for anonymous storefront readers of a kind that marks no storefront fields;
null for a resource the resource store does not hold."""

from __future__ import annotations

from typing import Any

from gitstore.domain.resources.model import SpecUpsert

from .seed import Shop, data

QUERY = """
query($repo: String!) {
  catalog(repository: $repo) {
    a: product(name: "p01") { name status resourceStatus }
    b: product(name: "p02") { name resourceStatus }
  }
}"""


def test_resource_status_beside_spec(shop: Shop) -> None:
    store = shop.server.services.resources()
    upsert = SpecUpsert("Product", "p01", "gitstore.dev/v1", {"title": "Product 01"})
    shop.server.run(store.apply_commit(shop.public, "c1", [upsert], []))
    status = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}
    shop.server.run(store.update_status(shop.public, "Product", "p01", 1, status))

    def read(token: str | None) -> dict[str, Any]:
        catalog: dict[str, Any] = data(
            shop.server.graphql(QUERY, {"repo": shop.public}, token=token)
        )["catalog"]
        return catalog

    owner = read(shop.owner_token)
    assert owner["a"]["status"] == "ACTIVE"  # the spec field keeps its name
    got = owner["a"]["resourceStatus"]
    assert got["observedGeneration"] == 1 and got["conditions"][0]["type"] == "Ready"
    assert owner["b"]["resourceStatus"] is None  # not in the resource store
    assert read(None)["a"]["resourceStatus"] is None  # Product marks no storefront fields
    assert read(shop.outsider_token)["a"]["resourceStatus"] is None
