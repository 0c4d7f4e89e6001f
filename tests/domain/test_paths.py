"""The path convention: (kind, name) <-> <plural>/<name>.<ext>, and path/content agreement."""

from __future__ import annotations

import pytest

from gitstore.domain.content import (
    KindRegistry,
    Layout,
    ManifestError,
    ManifestFormat,
    candidate_paths,
    identity_errors,
    identity_for_path,
    kind_definition_from_manifest,
    parse_manifest,
    path_for,
    validate_manifest,
)
from gitstore.domain.errors import InvalidArgument, NotFound
from tests.domain import samples

BRANDS = """\
apiVersion: gitstore.dev/v1
kind: KindDefinition
metadata: {name: brands}
spec:
  group: acme.example
  names: {kind: Brand, plural: brands, singular: brand}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        type: object
        properties: {title: {type: string}}
"""


@pytest.fixture
def registry() -> KindRegistry:
    registry = KindRegistry.builtin()
    registry.register(kind_definition_from_manifest(parse_manifest(BRANDS, "kinds/brands.yaml")))
    return registry


@pytest.mark.parametrize(
    ("kind", "name", "fmt", "path"),
    [
        ("Product", "blue-t-shirt", ManifestFormat.YAML, "products/blue-t-shirt.yaml"),
        ("Product", "blue-t-shirt", ManifestFormat.JSON, "products/blue-t-shirt.json"),
        ("Category", "shoes", ManifestFormat.MARKDOWN, "categories/shoes.md"),
        ("Collection", "summer-sale", ManifestFormat.YAML, "collections/summer-sale.yaml"),
        ("KindDefinition", "brands", ManifestFormat.YAML, "kinds/brands.yaml"),
        ("Brand", "acme", ManifestFormat.JSON, "brands/acme.json"),
        ("Product", "a", ManifestFormat.YAML, "products/a.yaml"),
        ("Product", "x" * 63, ManifestFormat.YAML, f"products/{'x' * 63}.yaml"),
    ],
)
def test_round_trip(
    registry: KindRegistry, kind: str, name: str, fmt: ManifestFormat, path: str
) -> None:
    assert path_for(kind, name, fmt, registry, layout=Layout.FLAT) == path
    found = identity_for_path(path, registry)
    assert found is not None
    assert (found.kind, found.name, found.format) == (kind, name, fmt)
    assert str(found.identity) == f"{kind}/{name}"


def test_yml_is_read_and_written_back_as_yaml() -> None:
    found = identity_for_path("products/tee.yml")
    assert found is not None and found.format is ManifestFormat.YAML
    assert path_for(found.kind, found.name, found.format, layout=found.layout) == (
        "products/tee.yaml"
    )
    assert candidate_paths("Product", "tee") == [
        "products/62/tee.yaml",
        "products/62/tee.yml",
        "products/62/tee.json",
        "products/62/tee.md",
        "products/tee.yaml",
        "products/tee.yml",
        "products/tee.json",
        "products/tee.md",
    ]


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        "products",
        "docs/products/tee.yaml",
        ".gitignore",
        "brands/acme.yaml",  # no such kind in the built-in registry
        "products/.gitkeep",
        "products/README.md",
        "/products/tee.yaml",
    ],
)
def test_not_manifests(path: str) -> None:
    assert identity_for_path(path) is None


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("products/shoes/tee.yaml", "subdirectories are not allowed"),
        ("products/tee.txt", "is not a manifest file name"),
        ("products/tee", "is not a manifest file name"),
        ("products/Tee.yaml", "file name 'Tee' is not a valid resource name"),
        ("products/tee_shirt.json", "is not a valid resource name"),
        ("products/-tee.md", "must not start or end with a hyphen"),
        ("categories/tee.yaml.bak", "is not a manifest file name"),
    ],
)
def test_rejected_paths_in_kind_directories(path: str, fragment: str) -> None:
    with pytest.raises(ManifestError) as excinfo:
        identity_for_path(path)
    (error,) = excinfo.value.errors
    assert error.rule == "invalid-path"
    assert error.path == path
    assert fragment in error.message


def test_path_for_refuses_bad_input() -> None:
    with pytest.raises(NotFound):
        path_for("Brand", "acme")
    with pytest.raises(InvalidArgument):
        path_for("Product", "Not A Name")


def test_identity_mismatch_kind_and_name() -> None:
    data = samples.category("shoes", None)
    manifest = samples.manifest(data, "products/boots.yaml")
    errors = identity_errors(manifest)
    assert [(e.field, e.rule) for e in errors] == [
        ("kind", "identity-mismatch"),
        ("metadata.name", "identity-mismatch"),
    ]
    assert "holds Product manifests, but it declares kind Category" in errors[0].message
    assert "move it to categories/shoes.yaml" in errors[0].message
    assert "'shoes' does not match the file name 'boots'" in errors[1].message


def test_identity_mismatch_is_part_of_validation_with_line_numbers() -> None:
    raw = "apiVersion: gitstore.dev/v1\nkind: Product\nmetadata:\n  name: tee\nspec:\n  title: T\n"
    manifest = parse_manifest(raw, "products/shirt.yaml")
    errors = validate_manifest(manifest)
    assert [(e.field, e.rule, e.line) for e in errors] == [
        ("metadata.name", "identity-mismatch", 4)
    ]


def test_manifest_outside_kind_directories_is_flagged_when_validated() -> None:
    manifest = samples.manifest(samples.product(), "misc/merino-crew-sweater.yaml")
    errors = validate_manifest(manifest)
    assert [e.rule for e in errors] == ["invalid-path"]


def test_matching_path_has_no_identity_errors() -> None:
    for manifest in samples.tree():
        assert identity_errors(manifest) == []
