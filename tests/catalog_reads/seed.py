"""A seeded catalogue for the storefront tests, written straight into the server's KV store.

``seed_shop(server)`` makes an owner (USER namespace), an outsider and an admin, three
repositories — ``shop`` (PUBLIC, ON_COMMIT), ``secret`` (PRIVATE, ON_COMMIT), ``tags``
(PUBLIC, ON_RELEASE_TAG) — and projects into ``shop``'s draft channel 24 products, four
categories (a small tree) and two collections (one manual, one rule-based), using the
projection's own value and index functions (products' with their rule matches, as the
worker writes them). The expected answers of every filter are computed from the same Python data
(``Shop.expect_products``), so tests compare the API against an independent model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitstore.backends.kv import Batch
from gitstore.backends.metadata.base import PublishMode, Tier, Visibility
from gitstore.domain.content.rules import matches, rule_set
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import document_indexes, document_value
from gitstore.worker.collections import product_indexes
from tests.api.server import ApiServer, unique_name

STATUSES = ("active", "active", "draft", "archived")
CATEGORY_CYCLE = (["shirts"], ["sweaters"], ["shirts", "shoes"])


def sha(n: int) -> str:
    return f"{n:040x}"


@dataclass(frozen=True)
class Resource:
    kind: str  # Product, Category, Collection
    name: str
    spec: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)


def product_spec(i: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "title": f"Product {i:02d}",
        "status": STATUSES[i % 4],
        "price": {"amount": f"{10 + i}.50", "currency": "EUR"},
        "categories": CATEGORY_CYCLE[i % 3],
    }
    collections = (["summer"] if i % 5 == 0 else []) + (["autumn"] if i % 2 == 0 else [])
    if collections:
        spec["collections"] = collections
    if i % 4 == 1:
        spec["handle"] = f"handle-{i:02d}"
    if i % 7 == 0:
        spec["tags"] = ["X"]  # in autumn by its rule (case-insensitive), p14 also by name
    if i == 1:
        spec["options"] = [{"name": "size", "values": ["S", "M"]}]
        spec["variants"] = [
            {"sku": "P01-S", "options": {"size": "S"}, "inventoryQuantity": 3},
            {
                "sku": "P01-M",
                "options": {"size": "M"},
                "price": {"amount": "12", "currency": "EUR"},
            },
        ]
    if i == 2:
        del spec["status"]  # defaults to draft
    return spec


def catalogue() -> list[Resource]:
    products = [
        Resource("Product", f"p{i:02d}", product_spec(i), {"tier": str(i % 2)})
        for i in range(1, 25)
    ]
    categories = [
        Resource("Category", "apparel", {"title": "Apparel"}),
        Resource("Category", "shirts", {"title": "Shirts", "parent": "apparel"}),
        Resource(
            "Category", "sweaters", {"title": "Sweaters", "parent": "apparel", "sortOrder": 2}
        ),
        Resource("Category", "shoes", {"title": "Shoes"}),
    ]
    collections = [
        # p10 is listed and also names summer itself; ghost does not exist
        Resource(
            "Collection", "summer", {"title": "Summer", "products": ["p03", "p07", "p10", "ghost"]}
        ),
        Resource(
            "Collection",
            "autumn",
            {
                "title": "Autumn",
                "rules": [{"field": "tag", "relation": "equals", "condition": "x"}],
            },
        ),
    ]
    return products + categories + collections


def batch_of(
    repository: str,
    channel: str,
    resources: list[Resource],
    *,
    sequence: int,
    version: str,
    deletes: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> Batch:
    batch = Batch(ChannelScope(repository, channel), sequence=sequence, version=version)
    rule_sets = {
        r.name: rules
        for r in resources
        if r.kind == "Collection" and (rules := rule_set(r.spec)) is not None
    }
    plural = {"Product": "products", "Category": "categories", "Collection": "collections"}
    for r in resources:
        value = document_value(
            api_version="gitstore.dev/v1",
            kind=r.kind,
            name=r.name,
            spec=r.spec,
            labels=r.labels,
            annotations={"note": f"about {r.name}"},
            path=f"{plural[r.kind]}/{r.name}.yaml",
            blob_id=sha(1000 + len(r.name)),
        )
        indexes = (  # as the worker writes them: with rule matches (worker/collections.py)
            product_indexes(r.name, r.spec, rule_sets)
            if r.kind == "Product"
            else document_indexes(r.kind, r.name, r.spec)
        )
        batch.upsert(r.kind.lower(), r.name, value, indexes=indexes)
    for kind, name in deletes:
        batch.delete(kind, name)
    return batch


@dataclass
class Shop:
    server: ApiServer
    namespace: str
    owner_token: str
    outsider_token: str
    admin_token: str
    resources: list[Resource]

    @property
    def public(self) -> str:
        return f"{self.namespace}/shop"

    @property
    def private(self) -> str:
        return f"{self.namespace}/secret"

    @property
    def tags(self) -> str:
        return f"{self.namespace}/tags"

    def apply(self, batch: Batch) -> None:
        self.server.run(self.server.services.kv().apply(batch))

    def products(self) -> dict[str, dict[str, Any]]:
        return {r.name: r.spec for r in self.resources if r.kind == "Product"}

    def expect_products(
        self,
        *,
        category: str | None = None,
        collection: str | None = None,
        status: str | None = None,
    ) -> list[str]:
        """The names the products filter should return, in order (a model of the rules)."""
        specs = self.products()
        listed: set[str] = set()
        document: Resource | None = None
        if collection is not None:
            document = next(
                (r for r in self.resources if r.kind == "Collection" and r.name == collection),
                None,
            )
            listed = set(document.spec.get("products", [])) if document else set()
        names = []
        for name, spec in specs.items():
            if category is not None and category not in spec.get("categories", []):
                continue
            if status is not None and spec.get("status", "draft") != status:
                continue
            if collection is not None and not (
                collection in spec.get("collections", [])
                or name in listed
                or (document is not None and matches(document.spec, spec, name))
            ):
                continue
            names.append(name)
        return sorted(names)


def seed_shop(server: ApiServer) -> Shop:
    owner, owner_token = server.user_token()
    _outsider, outsider_token = server.user_token()
    _admin, admin_token = server.user_token(admin=True)
    namespace = unique_name("ns")
    store = server.services.store

    async def make() -> None:
        ns = await store.create_namespace(
            namespace,
            Tier.USER,
            display_name=namespace,
            parent_enterprise_id=None,
            created_by=owner.username,
        )
        for name, visibility, mode in (
            ("shop", Visibility.PUBLIC, PublishMode.ON_COMMIT),
            ("secret", Visibility.PRIVATE, PublishMode.ON_COMMIT),
            ("tags", Visibility.PUBLIC, PublishMode.ON_RELEASE_TAG),
        ):
            await store.create_repository(
                ns.id,
                name,
                description="",
                publish_mode=mode,
                default_branch="main",
                visibility=visibility,
                created_by=owner.username,
            )

    server.run(make())
    shop = Shop(server, namespace, owner_token, outsider_token, admin_token, catalogue())
    for repository in (shop.public, shop.private, shop.tags):
        shop.apply(batch_of(repository, "draft", shop.resources, sequence=1, version=sha(1)))
    return shop


def data(response: Any) -> dict[str, Any]:
    """The ``data`` of a GraphQL response that must have no errors."""
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error_codes(response: Any) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]
