"""KindDefinition manifests, the built-in definitions, and the kind registry."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestError,
    builtin_definitions,
    kind_definition_errors,
    kind_definition_from_manifest,
    parse_manifest,
    validate_manifest,
)
from gitstore.domain.errors import AlreadyExists, FailedPrecondition, NotFound

BRANDS = yaml.safe_load(
    """\
apiVersion: gitstore.dev/v1
kind: KindDefinition
metadata: {name: brands}
spec:
  group: acme.example
  description: A brand a product can be made by.
  names: {kind: Brand, plural: brands, singular: brand}
  versions:
    - name: v1
      served: true
      storage: false
      deprecated: true
      deprecationWarning: use acme.example/v2
      schema:
        type: object
        additionalProperties: false
        required: [title]
        properties:
          title: {type: string, minLength: 1}
          logoUrl: {type: string}
    - name: v2
      served: true
      storage: true
      schema:
        $schema: https://json-schema.org/draft/2020-12/schema
        type: object
        additionalProperties: false
        required: [title]
        properties:
          title: {type: string, minLength: 1}
          logoUrl: {type: string}
          logo: {$ref: "#/$defs/image"}
          products:
            type: array
            items: {type: string, x-reference: {kind: Product}}
        $defs:
          image:
            type: object
            properties: {url: {type: string}, alt: {type: string}}
      deprecatedFields:
        - {path: spec.logoUrl, reason: Use logo.url}
        - {path: spec.logo.url, reason: Just testing nested paths}
  conversion:
    strategy: Wasm
    wasm: {module: hooks/brands.wasm, sha256: %s}
"""
    % ("ab" * 32)
)


def brands(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BRANDS)
    data["spec"].update(changes)
    return data


def errors_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    manifest = Manifest.from_object(data, "kinds/brands.yaml")
    return [(e.field, e.rule) for e in kind_definition_errors(manifest)]


def test_valid_kind_definition_builds_the_model() -> None:
    definition = kind_definition_from_manifest(Manifest.from_object(BRANDS))
    assert definition.kind == "Brand" and definition.plural == "brands"
    assert definition.names.singular == "brand"
    assert definition.hub.name == "v2"
    assert definition.hub_api_version == "acme.example/v2"
    assert definition.served_api_versions() == ["acme.example/v1", "acme.example/v2"]
    v1 = definition.version("acme.example/v1")
    assert v1 is not None and v1.deprecated and v1.deprecation_warning == "use acme.example/v2"
    assert next((d.path, d.reason) for d in definition.hub.deprecated_fields) == (
        "spec.logoUrl",
        "Use logo.url",
    )
    assert definition.conversion.strategy == "Wasm"
    assert definition.conversion.module == "hooks/brands.wasm"
    assert not definition.builtin
    assert definition.version("other.example/v2") is None


def test_two_hub_versions() -> None:
    data = brands()
    data["spec"]["versions"][0]["storage"] = True
    assert errors_of(data) == [("spec.versions", "kind-definition")]
    manifest = Manifest.from_object(data)
    with pytest.raises(ManifestError) as excinfo:
        kind_definition_from_manifest(manifest)
    assert "exactly one version must have storage: true (the hub), found 2: v1, v2" in str(
        excinfo.value
    )


def test_no_hub_version() -> None:
    data = brands()
    data["spec"]["versions"][1]["storage"] = False
    assert errors_of(data) == [("spec.versions", "kind-definition")]


def test_hub_must_be_served_and_names_unique() -> None:
    data = brands()
    data["spec"]["versions"][1]["served"] = False
    data["spec"]["versions"][0]["name"] = "v2"
    assert errors_of(data) == [
        ("spec.versions[1].name", "kind-definition"),
        ("spec.versions[1].served", "kind-definition"),
    ]


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"type": "strin"}, "spec.versions[1].schema.type"),
        (
            {"type": "object", "properties": {"a": {"minLength": -1}}},
            "spec.versions[1].schema.properties.a.minLength",
        ),
        ({"type": "array"}, "spec.versions[1].schema.type"),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://evil.example/s.json"}}},
            'spec.versions[1].schema.properties.a["$ref"]',
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
            'spec.versions[1].schema.properties.a["$ref"]',
        ),
        (
            {"type": "object", "properties": {"a": {"pattern": "(unclosed"}}},
            "spec.versions[1].schema.properties.a.pattern",
        ),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
            'spec.versions[1].schema["$schema"]',
        ),
    ],
)
def test_bad_schema(schema: dict[str, Any], field: str) -> None:
    data = brands()
    data["spec"]["versions"][1]["schema"] = schema
    data["spec"]["versions"][1].pop("deprecatedFields")
    found = errors_of(data)
    assert found == [(field, "schema")]


def test_deprecated_field_must_exist_in_the_schema() -> None:
    data = brands()
    data["spec"]["versions"][1]["deprecatedFields"] = [{"path": "spec.nope", "reason": "x"}]
    assert errors_of(data) == [("spec.versions[1].deprecatedFields[0].path", "kind-definition")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"group": "gitstore.dev"}, [("spec.group", "kind-definition")]),
        ({"group": "Not A Group"}, [("spec.group", "pattern")]),
        (
            {"names": {"kind": "brand", "plural": "brands", "singular": "brand"}},
            [("spec.names.kind", "pattern")],
        ),
        (
            {"names": {"kind": "Brand", "plural": "brands", "singular": "brands"}},
            [("spec.names.singular", "kind-definition")],
        ),
        (
            {"names": {"kind": "Brand", "plural": "marques", "singular": "brand"}},
            [("metadata.name", "kind-definition")],
        ),
        ({"versions": []}, [("spec.versions", "minItems")]),
        ({"conversion": {"strategy": "Wasm"}}, [("spec.conversion.wasm", "required")]),
        ({"conversion": {"strategy": "Lua"}}, [("spec.conversion.strategy", "enum")]),
        ({"extra": 1}, [("spec.extra", "additionalProperties")]),
    ],
)
def test_kind_definition_structure(change: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert errors_of(brands(**change)) == expected


def test_builtins_are_kind_definitions_too() -> None:
    definitions = {d.kind: d for d in builtin_definitions()}
    assert set(definitions) == {"Product", "Category", "Collection", "KindDefinition"}
    for d in definitions.values():
        assert d.builtin and d.group == "gitstore.dev" and d.hub.name == "v1"
        assert d.hub.schema["additionalProperties"] is False
    assert definitions["KindDefinition"].plural == "kinds"


def test_registry_lookup() -> None:
    registry = KindRegistry.builtin()
    definition, version = registry.resolve("gitstore.dev/v1", "Product")
    assert definition.plural == "products" and version.storage
    assert registry.by_plural("categories") is registry.get("Category")
    assert "Collection" in registry and len(registry) == 4
    with pytest.raises(NotFound):
        registry.get("Brand")
    with pytest.raises(NotFound) as excinfo:
        registry.resolve("gitstore.dev/v2", "Product")
    assert excinfo.value.field == "apiVersion"


def test_registry_conflicts() -> None:
    registry = KindRegistry.builtin()
    brand = kind_definition_from_manifest(Manifest.from_object(BRANDS))
    registry.register(brand)
    with pytest.raises(AlreadyExists):
        registry.register(brand)
    registry.register(brand, replace=True)
    clash = brands(names={"kind": "Marque", "plural": "brands", "singular": "marque"})
    with pytest.raises(AlreadyExists):
        registry.register(kind_definition_from_manifest(Manifest.from_object(clash)))
    product = registry.get("Product")
    with pytest.raises(FailedPrecondition):
        registry.register(product, replace=True)
    with pytest.raises(FailedPrecondition):
        registry.unregister("Product")
    registry.unregister("Brand")
    assert registry.by_plural("brands") is None


def test_with_definitions_keeps_good_ones_and_reports_bad_ones() -> None:
    bad = brands(names={"kind": "Product", "plural": "items", "singular": "item"})
    bad["metadata"]["name"] = "items"
    broken = brands()
    broken["spec"]["versions"][0]["storage"] = True
    manifests = [
        Manifest.from_object(BRANDS, "kinds/brands.yaml"),
        Manifest.from_object(bad, "kinds/items.yaml"),
        Manifest.from_object({**broken, "metadata": {"name": "brands"}}, "kinds/zz.yaml"),
    ]
    base = KindRegistry.builtin()
    registry, errors = base.with_definitions(manifests)
    assert "Brand" in registry and "Brand" not in base
    assert [(e.path, e.field, e.rule) for e in errors] == [
        ("kinds/items.yaml", "spec.names.kind", "kind-definition"),
        ("kinds/zz.yaml", "spec.versions", "kind-definition"),
    ]
    assert "built in" in errors[0].message


def test_custom_kind_manifests_validate_against_their_version_schema() -> None:
    registry, _ = KindRegistry.builtin().with_definitions([Manifest.from_object(BRANDS)])
    good = {
        "apiVersion": "acme.example/v2",
        "kind": "Brand",
        "metadata": {"name": "acme"},
        "spec": {"title": "Acme", "logo": {"url": "https://x.example/a.png"}},
    }
    assert validate_manifest(Manifest.from_object(good, "brands/acme.yaml"), registry) == []
    old = {
        "apiVersion": "acme.example/v1",
        "kind": "Brand",
        "metadata": {"name": "acme"},
        "spec": {"title": "Acme", "logoUrl": "https://x.example/a.png"},
    }
    assert validate_manifest(Manifest.from_object(old, "brands/acme.yaml"), registry) == []
    bad = copy.deepcopy(good)
    bad["spec"]["logo"] = {"url": 5}
    errors = validate_manifest(Manifest.from_object(bad, "brands/acme.yaml"), registry)
    assert [(e.field, e.rule) for e in errors] == [("spec.logo.url", "type")]


def test_kind_definition_manifest_validated_as_a_manifest() -> None:
    raw = yaml.safe_dump(brands(group="gitstore.dev"))
    manifest = parse_manifest(raw, "kinds/brands.yaml")
    errors = validate_manifest(manifest)
    assert [(e.field, e.rule) for e in errors] == [("spec.group", "kind-definition")]
    group_line = raw.splitlines().index("  group: gitstore.dev") + 1
    assert (errors[0].line, errors[0].column) == (group_line, 3)


def test_remembered_errors_follow_the_content_and_the_file() -> None:
    """``kind_definition_errors`` is memoised: the same content at another path is reported
    at that path, a changed content is judged again, and a caller's list is its own."""
    bad = brands()
    bad["spec"]["versions"][1]["storage"] = False
    first = kind_definition_errors(Manifest.from_object(bad, "kinds/brands.yaml"))
    assert [(e.path, e.field) for e in first] == [("kinds/brands.yaml", "spec.versions")]
    first.clear()  # the caller's copy, not the remembered answer
    again = kind_definition_errors(Manifest.from_object(bad, "kinds/brands.yaml"))
    assert [e.field for e in again] == ["spec.versions"]
    moved = kind_definition_errors(Manifest.from_object(bad, "kinds/other/brands.yaml"))
    assert [e.path for e in moved] == ["kinds/other/brands.yaml"]
    assert kind_definition_errors(Manifest.from_object(brands(), "kinds/brands.yaml")) == []
