"""Storefront reads over HTTP against a real server whose KV store holds a seeded catalogue:
one resource by id / name / handle, connections with every filter across pages, categories,
collections, and the versions in the response."""

from __future__ import annotations

from typing import Any

import pytest

from gitstore.api.catalog.ids import encode_resource_id

from .seed import Resource, Shop, batch_of, data, error_codes, sha

PRODUCT_FIELDS = """
  id name version path labels annotations spec
  title handle status description
  price { amount currency } compareAtPrice { amount }
  categories collections
  options { name values }
  variants { sku options inventoryQuantity inventoryPolicy price { amount currency } }
"""

ONE = f"""
query One($repo: String!, $id: ID, $name: String, $handle: String) {{
  catalog(repository: $repo) {{
    repository channel resolvedChannel version updatedAt
    product(id: $id, name: $name, handle: $handle) {{ {PRODUCT_FIELDS} }}
  }}
}}"""

PRODUCTS = """
query Products($repo: String!, $first: Int, $after: String, $filter: ProductFilter) {
  catalog(repository: $repo) {
    products(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { name version status categories } }
    }
  }
}"""


def one(shop: Shop, **args: Any) -> Any:
    variables = {"repo": shop.public, **args}
    return data(shop.server.graphql(ONE, variables))["catalog"]


def all_pages(shop: Shop, first: int, filter_: dict[str, Any] | None = None) -> list[str]:
    """Walk every page; check totalCount and the page info on the way."""
    names: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        variables = {"repo": shop.public, "first": first, "after": after, "filter": filter_}
        result = data(shop.server.graphql(PRODUCTS, variables))["catalog"]["products"]
        pages += 1
        edges = result["edges"]
        info = result["pageInfo"]
        assert len(edges) <= first
        assert info["hasPreviousPage"] is (after is not None)
        names.extend(edge["node"]["name"] for edge in edges)
        if edges:
            assert info["startCursor"] == edges[0]["cursor"]
            assert info["endCursor"] == edges[-1]["cursor"]
        total = result["totalCount"]
        if not info["hasNextPage"]:
            break
        assert len(edges) == first
        after = info["endCursor"]
        assert pages < 100
    assert total == len(names)
    return names


# ---------------------------------------------------------------------- one product


def test_product_by_name_has_every_generated_field(shop: Shop) -> None:
    catalog = one(shop, name="p01")
    assert catalog["repository"] == shop.public
    assert catalog["channel"] == "LIVE"
    assert catalog["resolvedChannel"] == "draft"  # ON_COMMIT without a live head
    assert catalog["version"] == sha(1)
    assert catalog["updatedAt"].endswith("Z")
    product = catalog["product"]
    assert product["id"] == encode_resource_id("Product", shop.public, "p01")
    assert product["name"] == "p01"
    assert product["version"] == sha(1)
    assert product["path"] == "products/p01.yaml"
    assert product["labels"] == {"tier": "1"}
    assert product["annotations"] == {"note": "about p01"}
    assert product["title"] == "Product 01"
    assert product["handle"] == "handle-01"
    assert product["status"] == "ACTIVE"
    assert product["description"] is None
    assert product["price"] == {"amount": "11.50", "currency": "EUR"}
    assert product["compareAtPrice"] is None
    assert product["categories"] == ["sweaters"]
    assert product["options"] == [{"name": "size", "values": ["S", "M"]}]
    assert product["variants"] == [
        {
            "sku": "P01-S",
            "options": {"size": "S"},
            "inventoryQuantity": 3,
            "inventoryPolicy": "DENY",  # the schema's default
            "price": None,
        },
        {
            "sku": "P01-M",
            "options": {"size": "M"},
            "inventoryQuantity": None,
            "inventoryPolicy": "DENY",
            "price": {"amount": "12", "currency": "EUR"},
        },
    ]
    assert product["spec"] == shop.products()["p01"]


def test_product_by_id_and_by_handle_find_the_same_product(shop: Shop) -> None:
    by_name = one(shop, name="p05")["product"]
    assert one(shop, id=by_name["id"])["product"] == by_name
    assert one(shop, handle="handle-05")["product"] == by_name
    # without spec.handle the handle is the name
    assert one(shop, handle="p04")["product"]["name"] == "p04"


def test_absent_status_reads_as_the_schema_default(shop: Shop) -> None:
    assert "status" not in shop.products()["p02"]
    assert one(shop, name="p02")["product"]["status"] == "DRAFT"


def test_missing_product_is_null(shop: Shop) -> None:
    assert one(shop, name="nope")["product"] is None
    assert one(shop, handle="nope")["product"] is None
    assert one(shop, id=encode_resource_id("Product", shop.public, "nope"))["product"] is None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "id"),
        ({"name": "p01", "handle": "p01"}, "handle"),
        ({"id": "not-an-id"}, "id"),
        ({"name": "Not Valid!"}, "name"),
    ],
)
def test_bad_product_arguments_are_clear_errors(
    shop: Shop, args: dict[str, Any], field: str
) -> None:
    response = shop.server.graphql(ONE, {"repo": shop.public, **args})
    body = response.json()
    assert body["data"]["catalog"]["product"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["extensions"]["field"] == field
    assert error["path"] == ["catalog", "product"]


def test_ids_of_another_kind_or_repository_are_refused(shop: Shop) -> None:
    for bad, text in (
        (encode_resource_id("Category", shop.public, "shirts"), "Category ID, not a Product"),
        (encode_resource_id("Product", shop.private, "p01"), "of repository"),
    ):
        response = shop.server.graphql(ONE, {"repo": shop.public, "id": bad})
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "INVALID_ARGUMENT"
        assert text in error["message"]


def test_aliased_products_in_one_query(shop: Shop) -> None:
    query = """query($repo: String!) { catalog(repository: $repo) {
      a: product(name: "p01") { name } b: product(name: "p02") { name }
      c: product(name: "ghost") { name } d: product(handle: "handle-09") { name } } }"""
    catalog = data(shop.server.graphql(query, {"repo": shop.public}))["catalog"]
    assert catalog == {"a": {"name": "p01"}, "b": {"name": "p02"}, "c": None, "d": {"name": "p09"}}


# ---------------------------------------------------------------------- products


def test_products_page_through_everything(shop: Shop) -> None:
    expected = shop.expect_products()
    assert len(expected) == 24
    assert all_pages(shop, 5) == expected
    assert all_pages(shop, 100) == expected


@pytest.mark.parametrize(
    "filter_",
    [
        {"category": "shirts"},
        {"category": "shoes"},
        {"status": "ACTIVE"},
        {"status": "DRAFT"},
        {"category": "shirts", "status": "ACTIVE"},
        {"category": "sweaters", "status": "ARCHIVED"},
        {"collection": "autumn"},  # rule matches (p07, p21) + spec.collections
        {"collection": "autumn", "status": "ACTIVE"},
        {"collection": "summer"},  # spec.products list + spec.collections
        {"collection": "summer", "status": "ACTIVE"},
        {"collection": "summer", "category": "shirts"},
        {"collection": "summer", "category": "shirts", "status": "DRAFT"},
        {"collection": "autumn", "category": "shoes"},
        {"collection": "nothing"},
        {"category": "nothing"},
    ],
)
def test_product_filters_across_pages(shop: Shop, filter_: dict[str, Any]) -> None:
    model = {k: (v.lower() if k == "status" else v) for k, v in filter_.items()}
    expected = shop.expect_products(**model)
    assert all_pages(shop, 2, filter_) == expected
    assert all_pages(shop, 50, filter_) == expected


def test_collection_union_members(shop: Shop) -> None:
    # listed: p03 p07 p10 (ghost is not a product); naming summer: p05 p10 p15 p20
    assert shop.expect_products(collection="summer") == ["p03", "p05", "p07", "p10", "p15", "p20"]
    assert all_pages(shop, 4, {"collection": "summer"}) == [
        "p03",
        "p05",
        "p07",
        "p10",
        "p15",
        "p20",
    ]


def test_rule_based_collection_members(shop: Shop) -> None:
    # naming autumn: the even products; matching its rule (tag equals "x"): p07 p14 p21
    autumn = [f"p{i:02d}" for i in range(1, 25) if i % 2 == 0 or i in (7, 21)]
    assert shop.expect_products(collection="autumn") == autumn
    assert all_pages(shop, 5, {"collection": "autumn"}) == autumn
    active = [n for n in autumn if int(n[1:]) % 4 in (0, 1)]  # p21 by its rule, not p07
    assert all_pages(shop, 3, {"collection": "autumn", "status": "ACTIVE"}) == active


def test_bad_page_arguments(shop: Shop) -> None:
    for variables, field in (
        ({"first": 0}, "first"),
        ({"first": 101}, "first"),
        ({"after": "%%%"}, "after"),
    ):
        response = shop.server.graphql(PRODUCTS, {"repo": shop.public, **variables})
        (error,) = response.json()["errors"]
        assert error["extensions"] == {"code": "INVALID_ARGUMENT", "field": field}


def test_status_filter_is_the_generated_enum(shop: Shop) -> None:
    response = shop.server.graphql(
        PRODUCTS, {"repo": shop.public, "filter": {"status": "sold-out"}}
    )
    assert response.status_code == 400  # a variable coercion error: nothing executed
    assert error_codes(response) == ["BAD_REQUEST"]
    assert "ProductStatus" in response.json()["errors"][0]["message"]


# ---------------------------------------------------------------------- categories, collections

CATEGORIES = """
query($repo: String!, $parent: String, $first: Int, $after: String) {
  catalog(repository: $repo) {
    categories(first: $first, after: $after, filter: {parent: $parent}) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { id name title parent sortOrder version path seo { title } }
    }
  }
}"""


def test_categories_and_parent_filter(shop: Shop) -> None:
    def names(**variables: Any) -> list[str]:
        result = data(shop.server.graphql(CATEGORIES, {"repo": shop.public, **variables}))
        return [n["name"] for n in result["catalog"]["categories"]["nodes"]]

    assert names() == ["apparel", "shirts", "shoes", "sweaters"]
    assert names(parent="apparel") == ["shirts", "sweaters"]
    assert names(parent="shirts") == []
    first = data(shop.server.graphql(CATEGORIES, {"repo": shop.public, "first": 3}))
    page = first["catalog"]["categories"]
    assert page["totalCount"] == 4 and page["pageInfo"]["hasNextPage"]
    rest = names(first=3, after=page["pageInfo"]["endCursor"])
    assert rest == ["sweaters"]


def test_category_and_collection_by_name_and_id(shop: Shop) -> None:
    query = """query($repo: String!, $cid: ID, $kid: ID) { catalog(repository: $repo) {
      sweaters: category(name: "sweaters") { id name title parent sortOrder }
      byId: category(id: $cid) { name }
      summer: collection(name: "summer") { id name title products rules { field } }
      autumn: collection(id: $kid) { name products appliedDisjunctively
        rules { field relation condition } }
      none: collection(name: "winter") { name }
      collections { totalCount nodes { name version } } } }"""
    variables = {
        "repo": shop.public,
        "cid": encode_resource_id("Category", shop.public, "shoes"),
        "kid": encode_resource_id("Collection", shop.public, "autumn"),
    }
    catalog = data(shop.server.graphql(query, variables))["catalog"]
    assert catalog["sweaters"] == {
        "id": encode_resource_id("Category", shop.public, "sweaters"),
        "name": "sweaters",
        "title": "Sweaters",
        "parent": "apparel",
        "sortOrder": 2,
    }
    assert catalog["byId"] == {"name": "shoes"}
    assert catalog["summer"]["products"] == ["p03", "p07", "p10", "ghost"]
    assert catalog["summer"]["rules"] is None
    assert catalog["autumn"] == {
        "name": "autumn",
        "products": None,
        "appliedDisjunctively": False,
        "rules": [{"field": "TAG", "relation": "EQUALS", "condition": "x"}],
    }
    assert catalog["none"] is None
    assert catalog["collections"] == {
        "totalCount": 2,
        "nodes": [{"name": "autumn", "version": sha(1)}, {"name": "summer", "version": sha(1)}],
    }


# ---------------------------------------------------------------------- versions


def test_versions_follow_the_projection(api_server_factory: Any, tmp_path: Any) -> None:
    """A second projection changes one product: the catalogue version moves, the untouched
    product keeps the version of the commit that last wrote it, a deleted one disappears."""
    from .seed import seed_shop

    shop = seed_shop(api_server_factory(data_dir=tmp_path))
    changed = Resource("Product", "p03", {**shop.products()["p03"], "title": "New title"})
    shop.apply(
        batch_of(
            shop.public,
            "draft",
            [changed],
            sequence=2,
            version=sha(2),
            deletes=[("product", "p04")],
        )
    )
    query = """query($repo: String!) { catalog(repository: $repo) { version
      p3: product(name: "p03") { title version } p5: product(name: "p05") { version }
      p4: product(name: "p04") { version } products(first: 100) { totalCount } } }"""
    catalog = data(shop.server.graphql(query, {"repo": shop.public}))["catalog"]
    assert catalog == {
        "version": sha(2),
        "p3": {"title": "New title", "version": sha(2)},
        "p5": {"version": sha(1)},
        "p4": None,
        "products": {"totalCount": 23},
    }


# ---------------------------------------------------------------------- extension seam


def test_other_modules_can_add_catalog_fields(api_server_factory: Any, tmp_path: Any) -> None:
    from graphql import GraphQLField, GraphQLString

    from gitstore.api.graphql.builder import SchemaBuilder, SchemaBuildError, build_schema
    from gitstore.api.graphql.catalog_reads import add_catalog_field
    from gitstore.api.graphql.modules import default_modules

    from .seed import seed_shop

    class Extra:
        name = "extra"

        def contribute(self, builder: SchemaBuilder) -> None:
            add_catalog_field(
                builder,
                "scopeName",
                GraphQLField(GraphQLString, resolve=lambda view, _info: str(view.scope)),
            )

    class Clash:
        name = "clash"

        def contribute(self, builder: SchemaBuilder) -> None:
            add_catalog_field(builder, "products", GraphQLField(GraphQLString))

    with pytest.raises(SchemaBuildError, match=r"Catalog\.products is defined twice"):
        build_schema([*default_modules(), Clash()])
    shop = seed_shop(api_server_factory(data_dir=tmp_path, modules=[*default_modules(), Extra()]))
    query = "query($repo: String!) { catalog(repository: $repo) { scopeName } }"
    catalog = data(shop.server.graphql(query, {"repo": shop.public}))["catalog"]
    assert catalog == {"scopeName": f"{shop.public}:draft"}
