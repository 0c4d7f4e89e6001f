"""Semantic, field-level diffs of manifests."""

from __future__ import annotations

from gitstore.domain.content import (
    FieldChange,
    ManifestFormat,
    diff_manifests,
    diff_values,
    encode_manifest,
    parse_manifest,
)
from tests.domain import samples


def test_no_change_across_formats() -> None:
    manifest = samples.manifest(samples.product())
    as_json = parse_manifest(
        encode_manifest(manifest, ManifestFormat.JSON), "products/merino-crew-sweater.json"
    )
    assert diff_manifests(manifest, as_json) == []


def test_field_changes() -> None:
    old = samples.manifest(samples.product())
    data = samples.product()
    data["spec"]["title"] = "Merino Crew"
    data["spec"]["variants"][1]["price"]["amount"] = "79.00"
    del data["spec"]["variants"][2]
    data["spec"]["tags"] = ["merino", "sale"]
    data["spec"]["seo"].pop("description")
    data["metadata"]["labels"]["team"] = "basics"
    new = samples.manifest(data)
    changes = diff_manifests(old, new)
    assert [(c.path, c.op) for c in changes] == [
        ("metadata.labels.team", "changed"),
        ("spec.seo.description", "removed"),
        ("spec.tags", "changed"),
        ("spec.title", "changed"),
        ("spec.variants[1].price.amount", "changed"),
        ("spec.variants[2].inventoryQuantity", "removed"),
        ("spec.variants[2].options.colour", "removed"),
        ("spec.variants[2].options.size", "removed"),
        ("spec.variants[2].price.amount", "removed"),
        ("spec.variants[2].price.currency", "removed"),
        ("spec.variants[2].sku", "removed"),
    ]
    by_path = {c.path: c for c in changes}
    assert by_path["spec.variants[1].price.amount"] == FieldChange(
        "spec.variants[1].price.amount", "89.00", "79.00", "changed"
    )
    assert by_path["spec.tags"].old == ["merino", "bestseller"]
    assert by_path["spec.tags"].new == ["merino", "sale"]
    assert by_path["spec.seo.description"].to_dict() == {
        "path": "spec.seo.description",
        "op": "removed",
        "old": "Extra-fine merino.",
        "new": None,
    }


def test_creation_and_deletion() -> None:
    manifest = samples.manifest(samples.category())
    added = diff_manifests(None, manifest)
    assert [c.path for c in added] == [
        "apiVersion",
        "kind",
        "metadata.name",
        "spec.description",
        "spec.parent",
        "spec.seo.title",
        "spec.sortOrder",
        "spec.title",
    ]
    assert all(c.op == "added" and c.old is None for c in added)
    removed = diff_manifests(manifest, None)
    assert [c.path for c in removed] == [c.path for c in added]
    assert all(c.op == "removed" and c.new is None for c in removed)
    assert diff_manifests(None, None) == []


def test_type_changes_and_odd_keys() -> None:
    changes = diff_values(
        {"a": {"b": 1}, "pack size": 1, "n": 1, "flag": True, "empty": {}},
        {"a": "flat", "pack size": 2, "n": 1.0, "flag": 1, "empty": {}},
    )
    assert [(c.path, c.op) for c in changes] == [
        ("a", "changed"),
        ("flag", "changed"),
        ("n", "changed"),
        ('["pack size"]', "changed"),
    ]
