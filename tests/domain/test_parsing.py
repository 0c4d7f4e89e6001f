"""Parsing manifests: the three formats, the envelope, and every way input can be malformed."""

from __future__ import annotations

import json

import pytest

from gitstore.domain.content import (
    DEFAULT_MAX_MANIFEST_BYTES,
    ManifestError,
    ManifestFormat,
    encode_manifest,
    parse_manifest,
)
from gitstore.domain.errors import InvalidArgument
from tests.domain import samples

YAML = """\
apiVersion: gitstore.dev/v1
kind: Product
metadata:
  name: linen-shirt
  labels:
    team: shirts
spec:
  title: Linen Shirt
  status: draft
  price:
    amount: "49.90"
    currency: EUR
  tags: [linen, summer]
  attributes:
    country: NO
    launched: 2024-05-01
"""

MARKDOWN = """\
---
apiVersion: gitstore.dev/v1
kind: Category
metadata:
  name: shirts
spec:
  title: Shirts
  parent: tops
---

# Shirts

Everything with **buttons**.
"""


def only_error(excinfo: pytest.ExceptionInfo[ManifestError]) -> tuple[str, str, int | None]:
    errors = excinfo.value.errors
    assert len(errors) == 1, errors
    return errors[0].rule, errors[0].message, errors[0].line


def test_yaml_manifest_parses_into_the_envelope() -> None:
    m = parse_manifest(YAML, "products/linen-shirt.yaml")
    assert (m.api_version, m.kind, m.name) == ("gitstore.dev/v1", "Product", "linen-shirt")
    assert (m.group, m.version) == ("gitstore.dev", "v1")
    assert m.labels == {"team": "shirts"}
    assert m.spec["price"] == {"amount": "49.90", "currency": "EUR"}
    # YAML 1.1 surprises are switched off: NO stays a string, dates stay strings
    assert m.spec["attributes"] == {"country": "NO", "launched": "2024-05-01"}
    assert m.position("spec.price.amount") == (11, 5)
    assert m.position("spec.tags[1]") == (13, 17)


def test_json_manifest_parses() -> None:
    raw = json.dumps(samples.product()).encode()
    m = parse_manifest(raw, "products/merino-crew-sweater.json")
    assert m.spec["variants"][2]["price"]["amount"] == "94.5"
    assert m == samples.manifest(samples.product())


def test_markdown_body_becomes_spec_description() -> None:
    m = parse_manifest(MARKDOWN, "categories/shirts.md")
    assert m.kind == "Category"
    assert m.spec["description"] == "# Shirts\n\nEverything with **buttons**."
    assert m.position("spec.description") == (11, 1)
    assert m.position("spec.parent") == (8, 3)  # frontmatter lines are file lines


def test_markdown_with_crlf_and_empty_body() -> None:
    text = MARKDOWN.split("---\n\n")[0] + "---\n"
    m = parse_manifest(text.replace("\n", "\r\n"), "categories/shirts.md")
    assert "description" not in m.spec


def test_markdown_body_and_frontmatter_description_conflict() -> None:
    text = MARKDOWN.replace("  parent: tops\n", "  description: short\n")
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(text, "categories/shirts.md")
    rule, message, line = only_error(excinfo)
    assert rule == "description-conflict"
    assert "spec.description" in message
    assert line == 8


def test_markdown_without_frontmatter() -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest("# Shirts\n\nNo frontmatter here.\n", "categories/shirts.md")
    rule, message, _ = only_error(excinfo)
    assert rule == "frontmatter-missing"
    assert "must start with a '---' line" in message


def test_markdown_frontmatter_not_closed() -> None:
    text = "---\napiVersion: gitstore.dev/v1\nkind: Category\n\n# Body without closing\n"
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(text, "categories/shirts.md")
    rule, message, line = only_error(excinfo)
    assert rule == "frontmatter-unclosed"
    assert "never closed" in message
    assert line == 1


@pytest.mark.parametrize(
    ("text", "rule", "line", "fragment"),
    [
        ("apiVersion: [unclosed\nkind: Product\n", "yaml-syntax", 2, "invalid YAML"),
        ("a: 1\n  b: 2\n", "yaml-syntax", 2, "invalid YAML"),
        ("kind: Product\nspec: {}\nkind: Category\n", "duplicate-key", 3, "duplicate key 'kind'"),
        ("kind: Product\n---\nkind: Category\n", "multiple-documents", 2, "exactly one"),
        ("a: &x [1, 2]\nb: *x\n", "yaml-alias", 2, "aliases"),
        ("a: {<<: {b: 1}}\n", "yaml-alias", 1, "merge keys"),
        ("a: !!python/object/apply:os.system [ls]\n", "yaml-tag", 1, "not allowed"),
        ("a: !!binary aGVsbG8=\n", "yaml-tag", 1, "binary"),
        ("a: !!set {x, y}\n", "yaml-tag", 1, "set"),
        ("1: one\n", "invalid-value", 1, "keys must be strings"),
        ("a: .nan\n", "invalid-value", 1, "not a finite number"),
        ("a:" + " [" * 80 + " 1" + " ]" * 80 + "\n", "too-deep", 1, "deeper than 64"),
    ],
)
def test_malformed_yaml(text: str, rule: str, line: int, fragment: str) -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(text, "products/x.yaml")
    got_rule, message, got_line = only_error(excinfo)
    assert (got_rule, got_line) == (rule, line), message
    assert fragment in message
    assert isinstance(excinfo.value, InvalidArgument)  # maps to INVALID_ARGUMENT / userErrors


@pytest.mark.parametrize(
    ("text", "rule", "fragment"),
    [
        ('{"kind": "Product",\n "kind": "Category"}', "duplicate-key", "duplicate key 'kind'"),
        ('{"kind": "Product",\n "spec": }', "json-syntax", "invalid JSON"),
        ('{"a": NaN}', "invalid-value", "NaN"),
        ('{"a": 1e999}', "invalid-value", "finite"),
        ("[" * 100 + "]" * 100, "too-deep", "deeper"),
    ],
)
def test_malformed_json(text: str, rule: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(text, "products/x.json")
    got_rule, message, _ = only_error(excinfo)
    assert got_rule == rule
    assert fragment in message


def test_json_syntax_error_has_line_and_column() -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest('{\n  "kind": "Product",\n  "spec": ]\n}', "products/x.json")
    error = excinfo.value.errors[0]
    assert (error.line, error.column) == (3, 11)


@pytest.mark.parametrize(
    ("text", "field", "rule"),
    [
        ("- a\n- b\n", "", "not-a-mapping"),
        ("just a string\n", "", "not-a-mapping"),
        ("", "", "not-a-mapping"),
        ("# only a comment\n", "", "not-a-mapping"),
    ],
)
def test_not_a_mapping(text: str, field: str, rule: str) -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(text, "products/x.yaml")
    error = excinfo.value.errors[0]
    assert (error.field, error.rule) == (field, rule)


def test_envelope_errors_are_all_reported_at_once() -> None:
    text = (
        "apiVersion: v1\nkind: product\nmetadata:\n  name: Bad_Name\n  uid: x\n"
        "  labels: {team: 5}\nstatus: {}\n"
    )
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(text, "products/x.yaml")
    found = {(e.field, e.rule) for e in excinfo.value.errors}
    assert found == {
        ("status", "unknown-field"),
        ("apiVersion", "invalid-api-version"),
        ("kind", "invalid-kind"),
        ("metadata.uid", "unknown-field"),
        ("metadata.name", "invalid-name"),
        ('metadata.labels["team"]', "invalid-type"),
        ("spec", "missing-field"),
    }
    by_field = {e.field: e for e in excinfo.value.errors}
    assert by_field["metadata.name"].line == 4
    assert "Bad_Name" in by_field["metadata.name"].message


@pytest.mark.parametrize(
    ("metadata", "field", "rule"),
    [
        ({}, "metadata.name", "missing-field"),
        ({"name": 7}, "metadata.name", "invalid-type"),
        ({"name": "-leading"}, "metadata.name", "invalid-name"),
        ({"name": "x" * 64}, "metadata.name", "invalid-name"),
        ({"name": "ok", "labels": {"bad key": "v"}}, 'metadata.labels["bad key"]', "invalid-label"),
        ({"name": "ok", "labels": {"k": "v" * 64}}, 'metadata.labels["k"]', "invalid-label"),
        ({"name": "ok", "labels": ["a"]}, "metadata.labels", "not-a-mapping"),
    ],
)
def test_metadata_rules(metadata: dict[str, object], field: str, rule: str) -> None:
    data = samples.product()
    data["metadata"] = metadata
    with pytest.raises(ManifestError) as excinfo:
        samples.manifest(data)
    assert [(e.field, e.rule) for e in excinfo.value.errors] == [(field, rule)]


def test_annotations_accept_any_string_and_prefixed_label_keys() -> None:
    data = samples.product()
    data["metadata"]["annotations"] = {"acme.example/review": "Any text, even: this!"}
    data["metadata"]["labels"] = {"acme.example/tier": "gold", "empty": ""}
    m = samples.manifest(data)
    assert m.annotations["acme.example/review"] == "Any text, even: this!"


def test_oversized_manifest_is_refused_naming_the_limit() -> None:
    data = samples.product()
    data["spec"]["description"] = "x" * (10 * 1024 * 1024)
    raw = encode_manifest(samples.manifest(data))
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(raw, "products/merino-crew-sweater.yaml")
    rule, message, _ = only_error(excinfo)
    assert rule == "too-large"
    assert "over the limit of 1,048,576 bytes (1 MiB)" in message
    assert "10,48" in message  # the actual size is named too


def test_size_limit_is_the_callers_choice() -> None:
    raw = YAML.encode()
    assert parse_manifest(raw, "products/linen-shirt.yaml", max_bytes=len(raw)).name
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(raw, "products/linen-shirt.yaml", max_bytes=len(raw) - 1)
    assert excinfo.value.rules == ["too-large"]
    assert DEFAULT_MAX_MANIFEST_BYTES == 1 << 20


def test_encode_with_a_limit_refuses_too() -> None:
    data = samples.product()
    data["spec"]["description"] = "y" * 5000
    with pytest.raises(ManifestError) as excinfo:
        encode_manifest(samples.manifest(data), max_bytes=4096)
    assert excinfo.value.rules == ["too-large"]


def test_not_utf8() -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(b"kind: Product\ntitle: caf\xe9\n", "products/x.yaml")
    rule, message, line = only_error(excinfo)
    assert (rule, line) == ("encoding", 2)
    assert "0xe9" in message


def test_bom_is_dropped() -> None:
    m = parse_manifest(b"\xef\xbb\xbf" + YAML.encode(), "products/linen-shirt.yaml")
    assert m.name == "linen-shirt"


def test_format_comes_from_extension_or_argument() -> None:
    raw = json.dumps(samples.product())
    assert parse_manifest(raw, fmt=ManifestFormat.JSON).kind == "Product"
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(raw, "products/x.txt")
    assert excinfo.value.rules == ["invalid-path"]


def test_error_string_carries_file_line_and_rule() -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest("a: 1\na: 2\n", "products/x.yaml")
    text = str(excinfo.value.errors[0])
    assert text.startswith("products/x.yaml:2:1: duplicate key 'a'")
    assert text.endswith("[duplicate-key]")
    assert excinfo.value.errors[0].to_dict()["line"] == 2


@pytest.fixture
def pure_python_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use PyYAML's pure-Python loader and dumper, as on a machine without libyaml."""
    from gitstore.domain.content import yamlio

    monkeypatch.setattr(yamlio, "_Loader", yamlio._PyLoader)
    monkeypatch.setattr(yamlio, "_Dumper", yamlio._PyDumper)


@pytest.mark.usefixtures("pure_python_yaml")
@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        ("kind: Product\nspec: {}\nkind: Category\n", "duplicate-key", 3),
        ("kind: Product\n---\nkind: Category\n", "multiple-documents", 2),
        ("a: &x [1, 2]\nb: *x\n", "yaml-alias", 2),
        ("a: !!binary aGVsbG8=\n", "yaml-tag", 1),
        ("a: [unclosed\n", "yaml-syntax", 2),
        ("a:" + " [" * 2000 + " ]" * 2000 + "\n", "too-deep", None),
    ],
)
def test_pure_python_loader_applies_the_same_rules(text: str, rule: str, line: int | None) -> None:
    with pytest.raises(ManifestError) as excinfo:
        parse_manifest(text, "products/x.yaml")
    error = excinfo.value.errors[0]
    assert (error.rule, error.line if line else None) == (rule, line)


@pytest.mark.usefixtures("pure_python_yaml")
def test_pure_python_round_trip_gives_the_same_bytes() -> None:
    manifest = samples.manifest(samples.product())
    raw = encode_manifest(manifest)
    assert parse_manifest(raw, "products/merino-crew-sweater.yaml") == manifest
    assert parse_manifest(YAML, "products/linen-shirt.yaml").spec["attributes"]["country"] == "NO"


def test_libyaml_and_pure_python_write_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitstore.domain.content import yamlio

    data = samples.product()
    data["spec"]["attributes"] = {"a": "no", "b": "x: y", "c": " pad ", "d": "#x", "e": "ü"}
    manifest = samples.manifest(data)
    fast = encode_manifest(manifest)
    monkeypatch.setattr(yamlio, "_Dumper", yamlio._PyDumper)
    assert encode_manifest(manifest) == fast
