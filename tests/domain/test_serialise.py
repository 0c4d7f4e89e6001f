"""Deterministic serialisation: canonical bytes, and parse(encode(m)) == m in every format."""

from __future__ import annotations

import json

import pytest

from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestFormat,
    encode_manifest,
    parse_manifest,
    path_for,
)
from tests.domain import samples

PRODUCT_SCHEMA = KindRegistry.builtin().schema_for(samples.manifest(samples.product()))


@pytest.mark.parametrize("fmt", list(ManifestFormat))
@pytest.mark.parametrize("make", [samples.product, samples.category, samples.rule_collection])
def test_round_trip(fmt: ManifestFormat, make: object) -> None:
    manifest = samples.manifest(make())  # type: ignore[operator]
    raw = encode_manifest(manifest, fmt)
    again = parse_manifest(raw, path_for(manifest.kind, manifest.name, fmt))
    assert again == manifest
    assert encode_manifest(again, fmt) == raw


@pytest.mark.parametrize("fmt", list(ManifestFormat))
def test_key_order_does_not_change_the_bytes(fmt: ManifestFormat) -> None:
    data = samples.product()
    shuffled = json.loads(json.dumps(data, sort_keys=True))
    shuffled["spec"] = dict(reversed(list(shuffled["spec"].items())))
    a = encode_manifest(samples.manifest(data), fmt, schema=PRODUCT_SCHEMA)
    b = encode_manifest(samples.manifest(shuffled), fmt, schema=PRODUCT_SCHEMA)
    assert a == b


def test_yaml_layout_follows_the_schema() -> None:
    raw = encode_manifest(samples.manifest(samples.product()), schema=PRODUCT_SCHEMA).decode()
    lines = raw.splitlines()
    assert lines[:4] == [
        "apiVersion: gitstore.dev/v1",
        "kind: Product",
        "metadata:",
        "  name: merino-crew-sweater",
    ]
    # labels sorted, spec in schema order (title first), amounts stay quoted strings
    assert lines[4:7] == ["  labels:", "    gitstore.dev/season: aw25", "    team: knitwear"]
    spec_keys = [
        ln.split(":")[0].strip() for ln in lines if ln.startswith("  ") and not ln.startswith("   ")
    ]
    assert spec_keys[spec_keys.index("title") :][:4] == ["title", "handle", "status", "description"]
    assert "    amount: '89.00'" in lines
    assert "  description: |-" in lines  # multi-line text as a literal block
    assert "      amount: '94.5'" in lines


def test_strings_that_look_like_other_types_stay_strings() -> None:
    data = samples.product()
    data["spec"]["attributes"] = {
        "a": "no",
        "b": "2024-01-01",
        "c": "1.50",
        "d": "null",
        "e": "true",
    }
    manifest = samples.manifest(data)
    again = parse_manifest(encode_manifest(manifest), "products/merino-crew-sweater.yaml")
    assert again.spec["attributes"] == data["spec"]["attributes"]


def test_markdown_puts_the_description_in_the_body() -> None:
    manifest = samples.manifest(samples.product())
    text = encode_manifest(manifest, ManifestFormat.MARKDOWN).decode()
    head, body = text.split("---\n\n", 1)
    assert head.startswith("---\napiVersion: gitstore.dev/v1\n")
    assert "\n  description:" not in head
    assert body == manifest.spec["description"] + "\n"


@pytest.mark.parametrize("description", ["\nleading newline", "trailing\n", "cr\r\nlf", ""])
def test_markdown_keeps_awkward_descriptions_in_the_frontmatter(description: str) -> None:
    data = samples.product()
    data["spec"]["description"] = description
    manifest = samples.manifest(data)
    raw = encode_manifest(manifest, ManifestFormat.MARKDOWN)
    assert raw.decode().endswith("---\n")
    assert parse_manifest(raw, "products/merino-crew-sweater.md") == manifest


def test_markdown_without_description() -> None:
    data = samples.category()
    del data["spec"]["description"]
    manifest = samples.manifest(data)
    raw = encode_manifest(manifest, ManifestFormat.MARKDOWN)
    assert parse_manifest(raw, "categories/sweaters.md") == manifest


def test_json_is_indented_and_ends_with_newline() -> None:
    raw = encode_manifest(samples.manifest(samples.category()), ManifestFormat.JSON).decode()
    assert raw.startswith('{\n  "apiVersion": "gitstore.dev/v1",\n  "kind": "Category",')
    assert raw.endswith("}\n")


def test_unicode_is_written_as_is() -> None:
    data = samples.category()
    data["spec"]["title"] = "Pulls & gilets — été"
    for fmt in ManifestFormat:
        raw = encode_manifest(Manifest.from_object(data), fmt)
        assert "Pulls & gilets — été".encode() in raw


def test_schema_for_unknown_kind_or_version_is_none() -> None:
    registry = KindRegistry.builtin()
    data = samples.product()
    data["apiVersion"] = "gitstore.dev/v2"
    assert registry.schema_for(samples.manifest(data)) is None
    data["kind"] = "Widget"
    assert registry.schema_for(samples.manifest(data)) is None
    assert PRODUCT_SCHEMA is registry.get("Product").hub.schema
