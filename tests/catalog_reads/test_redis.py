"""The storefront reads once more with the KV store on the real Redis server
(``tests/servers.py``: with ``CI=true`` a missing server fails instead of skipping): lookups,
every index-backed filter across pages, the collection union, categories, commit statuses and
the floor route."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gitstore.api.catalog.ids import encode_resource_id
from gitstore.backends.kv import Batch
from gitstore.backends.kv.redis import RedisKvStore
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import status_value
from tests.api.server import api_settings, start_api_server
from tests.servers import REDIS_URL, require_server

from .seed import Shop, data, seed_shop, sha
from .test_storefront import all_pages, one


@pytest.fixture(scope="module")
def redis_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    url = require_server(REDIS_URL, "Redis")
    prefix = f"gitstore-test-{uuid.uuid4().hex}:"
    settings = api_settings(
        tmp_path_factory.mktemp("redis"), **{"kv.url": f"{url}?prefix={prefix}"}
    )
    with start_api_server(settings) as server:
        kv = server.services.kv()
        assert isinstance(kv, RedisKvStore)
        try:
            yield seed_shop(server)
        finally:

            async def clean() -> None:
                keys = [k async for k in kv.client.scan_iter(match=f"{prefix}*", count=1000)]
                if keys:
                    await kv.client.delete(*keys)

            server.run(clean())


def test_lookups_on_redis(redis_shop: Shop) -> None:
    by_name = one(redis_shop, name="p05")["product"]
    assert by_name["version"] == sha(1)
    assert by_name["price"] == {"amount": "15.50", "currency": "EUR"}
    assert one(redis_shop, handle="handle-05")["product"] == by_name
    product_id = encode_resource_id("Product", redis_shop.public, "p05")
    assert one(redis_shop, id=product_id)["product"] == by_name
    assert one(redis_shop, name="nope")["product"] is None


@pytest.mark.parametrize(
    "filter_",
    [
        None,
        {"category": "shirts"},
        {"status": "ACTIVE"},
        {"category": "shoes", "status": "DRAFT"},
        {"collection": "autumn", "status": "ACTIVE"},
        {"collection": "summer"},
        {"collection": "summer", "category": "shirts"},
    ],
)
def test_filters_on_redis(redis_shop: Shop, filter_: dict[str, Any] | None) -> None:
    model = {k: (v.lower() if k == "status" else v) for k, v in (filter_ or {}).items()}
    assert all_pages(redis_shop, 3, filter_) == redis_shop.expect_products(**model)


def test_categories_status_and_floor_on_redis(redis_shop: Shop) -> None:
    query = """query($repo: String!) { catalog(repository: $repo) {
      categories(filter: {parent: "apparel"}) { totalCount nodes { name } } } }"""
    categories = data(redis_shop.server.graphql(query, {"repo": redis_shop.public}))
    assert categories["catalog"]["categories"] == {
        "totalCount": 2,
        "nodes": [{"name": "shirts"}, {"name": "sweaters"}],
    }
    batch = Batch(ChannelScope(redis_shop.public, "status"), sequence=1, version=sha(30))
    batch.advance_head = False
    batch.upsert("commit", sha(30), status_value(sha(30), [], "2025-01-01T00:00:00Z"))
    redis_shop.apply(batch)
    status = """query($repo: String!, $sha: String!) {
      commitStatus(repository: $repo, sha: $sha) { state } }"""
    for commit, state in ((sha(30), "VALID"), (sha(31), "PENDING")):
        result = data(redis_shop.server.graphql(status, {"repo": redis_shop.public, "sha": commit}))
        assert result["commitStatus"]["state"] == state
    raw = redis_shop.server.client.get(f"/storefront/raw/{redis_shop.public}/product/p01")
    assert raw.status_code == 200
    assert raw.json()["document"]["spec"] == redis_shop.products()["p01"]
