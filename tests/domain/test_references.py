"""Tree checks: duplicate identities, dangling references, category cycles, uniqueness."""

from __future__ import annotations

from gitstore.domain.content import KindRegistry, Manifest, check_references, parse_manifest
from tests.domain import samples


def found(
    manifests: list[Manifest], registry: KindRegistry | None = None
) -> list[tuple[str, str, str]]:
    return [(e.path, e.field, e.rule) for e in check_references(manifests, registry)]


def test_consistent_tree_has_no_errors() -> None:
    assert check_references(samples.tree()) == []


def test_dangling_references() -> None:
    tree = [m for m in samples.tree() if m.name not in ("knitwear", "autumn-essentials")]
    lonely = samples.collection()
    lonely["metadata"]["name"] = "lonely"
    lonely["spec"]["products"] = ["merino-crew-sweater", "ghost"]
    tree.append(samples.manifest(lonely, "collections/lonely.yaml"))
    errors = check_references(tree)
    assert [(e.path, e.field, e.rule) for e in errors] == [
        ("categories/sweaters.md", "spec.parent", "reference"),
        ("collections/lonely.yaml", "spec.products[1]", "reference"),
        ("products/merino-crew-sweater.yaml", "spec.categories[1]", "reference"),
        ("products/merino-crew-sweater.yaml", "spec.collections[0]", "reference"),
    ]
    assert (
        errors[0].message == "spec.parent: there is no Category named 'knitwear' in this repository"
    )
    assert (
        errors[1].message
        == "spec.products[1]: there is no Product named 'ghost' in this repository"
    )


def test_reference_errors_carry_lines() -> None:
    raw = (
        "apiVersion: gitstore.dev/v1\nkind: Category\nmetadata: {name: boots}\n"
        "spec:\n  title: Boots\n  parent: shoes\n"
    )
    (error,) = check_references([parse_manifest(raw, "categories/boots.yaml")])
    assert (error.field, error.line, error.column) == ("spec.parent", 6, 3)


def test_category_parent_cycles() -> None:
    tree = [
        samples.manifest(samples.category("a", "b"), "categories/a.yaml"),
        samples.manifest(samples.category("b", "c"), "categories/b.yaml"),
        samples.manifest(samples.category("c", "a"), "categories/c.yaml"),
        samples.manifest(samples.category("d", "a"), "categories/d.yaml"),  # hangs off the loop
        samples.manifest(samples.category("self", "self"), "categories/self.yaml"),
        samples.manifest(samples.category("root", None), "categories/root.yaml"),
        samples.manifest(samples.category("leaf", "root"), "categories/leaf.yaml"),
    ]
    errors = check_references(tree)
    assert [(e.path, e.rule) for e in errors] == [
        ("categories/a.yaml", "cycle"),
        ("categories/b.yaml", "cycle"),
        ("categories/c.yaml", "cycle"),
        ("categories/self.yaml", "cycle"),
    ]
    assert errors[0].field == "spec.parent"
    assert errors[0].message == "spec.parent: the category parents form a cycle: a -> b -> c -> a"
    assert errors[3].message.endswith("cycle: self -> self")


def test_duplicate_identity_in_two_formats() -> None:
    tree = samples.tree()
    tree.append(samples.manifest(samples.product(), "products/merino-crew-sweater.json"))
    errors = check_references(tree)
    assert [(e.path, e.field, e.rule) for e in errors] == [
        ("products/merino-crew-sweater.yaml", "metadata.name", "duplicate"),
    ]
    assert "also defined in products/merino-crew-sweater.json" in errors[0].message


def test_skus_and_handles_are_unique_across_products() -> None:
    other = samples.product()
    other["metadata"]["name"] = "merino-v-neck"
    other["spec"]["sku"] = "NW-MVN"
    other["spec"]["variants"] = [{"sku": "NW-MCS-L-OAT"}]  # taken by the crew sweater
    other["spec"]["options"] = []
    twin = samples.product()
    twin["metadata"]["name"] = "crew-twin"
    del twin["spec"]["handle"]
    twin["spec"]["sku"] = "NW-TWIN"
    twin["spec"]["variants"] = []
    twin["spec"]["handle"] = "merino-crew-sweater"
    by_name = samples.product()
    by_name["metadata"]["name"] = "merino-crew-sweater-2"
    by_name["spec"]["handle"] = "merino-v-neck"  # equals another product's default handle
    by_name["spec"]["sku"] = "NW-BN"
    by_name["spec"]["variants"] = []
    del other["spec"]["handle"]
    tree = [
        *samples.tree(),
        samples.manifest(other, "products/merino-v-neck.yaml"),
        samples.manifest(twin, "products/crew-twin.yaml"),
        samples.manifest(by_name, "products/merino-crew-sweater-2.yaml"),
    ]
    errors = check_references(tree)
    assert [(e.path, e.field, e.rule) for e in errors] == [
        ("products/merino-crew-sweater.yaml", "spec.handle", "unique"),
        ("products/merino-v-neck.yaml", "metadata.name", "unique"),
        ("products/merino-v-neck.yaml", "spec.variants[0].sku", "unique"),
    ]
    assert errors[2].message == (
        "spec.variants[0].sku: sku 'NW-MCS-L-OAT' is already used by "
        "Product/merino-crew-sweater (spec.variants[2].sku)"
    )


def test_custom_kinds_can_reference_built_ins() -> None:
    kind = parse_manifest(
        """\
apiVersion: gitstore.dev/v1
kind: KindDefinition
metadata: {name: lookbooks}
spec:
  group: acme.example
  names: {kind: Lookbook, plural: lookbooks, singular: lookbook}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        type: object
        properties:
          products: {type: array, items: {type: string, x-reference: {kind: Product}}}
""",
        "kinds/lookbooks.yaml",
    )
    registry, errors = KindRegistry.builtin().with_definitions([kind])
    assert errors == []
    book = Manifest.from_object(
        {
            "apiVersion": "acme.example/v1",
            "kind": "Lookbook",
            "metadata": {"name": "aw25"},
            "spec": {"products": ["merino-crew-sweater", "nope"]},
        },
        "lookbooks/aw25.yaml",
    )
    assert found([*samples.tree(), kind, book], registry) == [
        ("lookbooks/aw25.yaml", "spec.products[1]", "reference")
    ]


def test_unknown_kinds_are_skipped() -> None:
    odd = Manifest.from_object(
        {"apiVersion": "x.example/v1", "kind": "Odd", "metadata": {"name": "o"}, "spec": {}},
        "odds/o.yaml",
    )
    assert check_references([*samples.tree(), odd]) == []
