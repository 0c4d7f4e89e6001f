"""kindset: the registry of a tree's kinds/ and the checks of a change of kinds."""

from __future__ import annotations

from typing import Any

from gitstore.domain.content import Manifest
from gitstore.domain.content.kindset import (
    builtin_registry,
    changed_kinds,
    kind_change_errors,
    registry_for,
)


def definition(plural: str = "brands", kind: str = "Brand", **schema: Any) -> Manifest:
    return Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "KindDefinition",
            "metadata": {"name": plural},
            "spec": {
                "group": "acme.example",
                "names": {"kind": kind, "plural": plural, "singular": plural[:-1]},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"type": "object", **schema},
                    }
                ],
            },
        },
        path=f"kinds/{plural}.yaml",
    )


def brand(name: str, **spec: Any) -> Manifest:
    return Manifest.from_object(
        {
            "apiVersion": "acme.example/v1",
            "kind": "Brand",
            "metadata": {"name": name},
            "spec": spec,
        },
        path=f"brands/{name}.yaml",
    )


def test_no_definitions_is_the_shared_builtin_registry() -> None:
    kinds = registry_for([])
    assert kinds.registry is builtin_registry()
    assert kinds.errors == ()


def test_definitions_are_added_and_conflicts_reported_on_the_losing_file() -> None:
    kinds = registry_for([definition(), definition("marques", "Brand")])
    assert "Brand" in kinds.registry
    assert [(e.path, e.rule) for e in kinds.errors] == [("kinds/marques.yaml", "kind-definition")]
    clash = registry_for([definition("products", "Maker")])
    [error] = clash.errors
    assert "plural 'products' is already used by kind Product" in error.message


def test_removing_a_kind_with_resources_names_them_bounded() -> None:
    old = registry_for([definition()]).registry
    paths = [f"brands/b{i:02}.yaml" for i in range(13)]
    [error] = kind_change_errors(old, builtin_registry(), {}, orphans={"Brand": paths})
    assert error.path == "kinds/brands.yaml"
    assert "13 resources (brands/b00.yaml, " in error.message
    assert "brands/b09.yaml, and 3 more) still use it" in error.message
    assert kind_change_errors(old, builtin_registry(), {}, orphans={}) == []


def test_a_stricter_schema_is_checked_against_stored_resources() -> None:
    old = registry_for([definition()]).registry
    new = registry_for([definition(required=["title"])]).registry
    assert changed_kinds(old, new) == (set(), {"Brand"})
    stored = {"Brand": [brand("a", title="A"), brand("b")]}
    [error] = kind_change_errors(old, new, stored)
    assert "makes 1 resource (brands/b.yaml) invalid" in error.message
