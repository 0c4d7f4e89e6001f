"""The demo catalogue generator and the demo loader's batching (no server needed)."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from gitstore.cli.demo_catalog import MAX_PRODUCTS, build_catalog
from gitstore.cli.demo_load import MAX_BATCH_BYTES, batches, describe, idempotency_key
from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestFormat,
    check_references,
    encode_manifest,
    parse_manifest,
    validate_manifest,
)

REGISTRY = KindRegistry.builtin()


@pytest.mark.parametrize(("count", "seed"), [(400, 7), (1, 7), (60, 1), (3000, 3)])
def test_every_manifest_is_valid_and_references_resolve(count: int, seed: int) -> None:
    catalog = build_catalog(count, seed)
    manifests = []
    for item in catalog.inputs():
        manifest = Manifest.from_object(item["manifest"])
        assert validate_manifest(manifest, REGISTRY, check_path=False) == [], manifest.identity
        manifests.append(manifest)
    # references (categories, collections, parents), unique handles and SKUs across files
    assert check_references(manifests, REGISTRY) == []
    assert len(catalog.products) == count


def test_same_seed_same_bytes_and_larger_counts_extend_smaller_ones() -> None:
    assert build_catalog(120, 5) == build_catalog(120, 5)
    assert build_catalog(150, 5).products[:120] == build_catalog(120, 5).products
    assert build_catalog(120, 5).products != build_catalog(120, 6).products


def test_the_sample_looks_like_a_shop() -> None:
    catalog = build_catalog()
    assert len(catalog.categories) == 21 and len(catalog.collections) == 8
    specs = [p["spec"] for p in catalog.products]
    statuses = Counter(s["status"] for s in specs)
    assert statuses["active"] > 0.75 * len(specs) and statuses["draft"] and statuses["archived"]
    assert {s["price"]["currency"] for s in specs} == {"EUR", "USD"}
    assert len({s["categories"][0] for s in specs}) == 16
    on_sale = [s for s in specs if "compareAtPrice" in s]
    assert 0.1 * len(specs) < len(on_sale) < 0.5 * len(specs)
    for spec in on_sale:
        assert Decimal(spec["compareAtPrice"]["amount"]) > Decimal(spec["price"]["amount"])
    sized = [s for s in specs if any(o["name"] == "size" for o in s.get("options", []))]
    assert sized and all(len(s["variants"]) >= 3 for s in sized)
    assert all(s["description"].count("\n- ") == 3 and "## Care" in s["description"] for s in specs)
    roots = [c for c in catalog.categories if "parent" in c["spec"]]
    assert len(roots) == 16
    rule_based = [c for c in catalog.collections if "rules" in c["spec"]]
    assert len(rule_based) == 5


def test_rule_based_membership_is_written_on_the_products() -> None:
    for product in build_catalog().products:
        spec = product["spec"]
        member = set(spec.get("collections", []))
        assert ("sale" in member) == ("compareAtPrice" in spec)
        outdoor = bool({"camping", "cycling"} & set(spec["categories"]))
        assert ("outdoor-gear" in member) == outdoor
        cheap = Decimal(spec["price"]["amount"]) < 50 and spec["status"] == "active"
        assert ("under-50" in member) == cheap


def test_products_are_markdown_whose_body_is_the_description() -> None:
    item = build_catalog(3).inputs()[21]
    assert item["format"] == "MARKDOWN" and item["manifest"]["kind"] == "Product"
    manifest = Manifest.from_object(item["manifest"])
    raw = encode_manifest(manifest, ManifestFormat.MARKDOWN, schema=REGISTRY.schema_for(manifest))
    assert raw.decode().split("---\n", 2)[2].strip() == manifest.spec["description"]
    assert parse_manifest(raw, fmt=ManifestFormat.MARKDOWN) == manifest


def test_out_of_range_counts_are_refused() -> None:
    for count in (0, MAX_PRODUCTS + 1):
        with pytest.raises(ValueError, match="products must be between 1 and"):
            build_catalog(count)


def test_batches_keep_order_count_and_size_limits() -> None:
    inputs = build_catalog(400).inputs()
    runs = batches(inputs, 100)
    assert [len(run) for run in runs] == [100, 100, 100, 100, 29]
    assert [item for run in runs for item in run] == inputs
    small = batches(inputs, 100, max_bytes=50_000)
    assert len(small) > 5 and [item for run in small for item in run] == inputs
    for run in small:
        assert len(run) == 1 or sum(size(i) for i in run) <= 50_000
    assert all(sum(size(i) for i in run) < MAX_BATCH_BYTES for run in runs)


def size(item: object) -> int:
    return len(json.dumps(item, separators=(",", ":")))


def test_idempotency_keys_follow_the_content() -> None:
    inputs = build_catalog(60).inputs()
    first, second = inputs[:30], inputs[30:60]
    assert describe(first) == "gitstore demo: 21 categories, 9 products"
    assert describe(second[:1]) == "gitstore demo: 1 product"
    key = idempotency_key("demo/catalog", describe(first), first)
    assert key == idempotency_key("demo/catalog", describe(first), list(first))
    assert key.startswith("gitstore-demo-") and len(key) <= 200
    assert key != idempotency_key("demo/other", describe(first), first)
    assert key != idempotency_key("demo/catalog", describe(second), second)
