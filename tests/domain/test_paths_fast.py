"""``identity_for_path`` answers well-formed paths on a fast path; every path, tricky or
not, gets the very answer of the full checks (``_checked_identity``): the same identity,
None, or the same ``invalid-path`` errors with the same messages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from gitstore.domain.content import (
    KindRegistry,
    Layout,
    ManifestError,
    PathIdentity,
    identity_for_path,
    kind_definition_from_manifest,
    parse_manifest,
    path_for,
)
from gitstore.domain.content.errors import ContentError
from gitstore.domain.content.layout import bucket_for
from gitstore.domain.content.paths import _checked_identity
from tests.domain.test_paths import BRANDS

REGISTRY = KindRegistry.builtin()
REGISTRY.register(kind_definition_from_manifest(parse_manifest(BRANDS, "kinds/brands.yaml")))
RIGHT = bucket_for("blue-shirt")
WRONG = "00" if RIGHT != "00" else "01"

PATHS = [
    # well-formed, both layouts, every extension, built-in and custom kinds
    "products/blue-shirt.yaml",
    f"products/{RIGHT}/blue-shirt.yaml",
    f"products/{RIGHT}/blue-shirt.yml",
    f"products/{RIGHT}/blue-shirt.json",
    f"products/{RIGHT}/blue-shirt.md",
    "products/blue-shirt.json",
    "products/blue-shirt.yml",
    path_for("Brand", "acme", registry=REGISTRY, layout=Layout.FANOUT),
    "brands/acme.json",
    path_for("KindDefinition", "brands", registry=REGISTRY, layout=Layout.FANOUT),
    "categories/shoes.md",
    "products/a.yaml",
    f"products/{'x' * 63}.yaml",
    f"products/{bucket_for('x' * 64)}/{'x' * 64}.yaml",  # name too long
    f"products/{bucket_for('readme')}/readme.yaml",  # lowercase: a name like any other
    # wrong or bad buckets, nested directories
    f"products/{WRONG}/blue-shirt.yaml",
    f"products/{RIGHT.upper()}/blue-shirt.yaml",
    "products/zz/blue-shirt.yaml",
    "products/abc/blue-shirt.yaml",
    f"products/{RIGHT}/x/blue-shirt.yaml",
    "products/sub/dir/blue-shirt.yaml",
    f"products/{RIGHT}/",
    "products//blue-shirt.yaml",
    # bad names and extensions
    "products/Blue.yaml",
    f"products/{bucket_for('Blue')}/Blue.yaml",
    "products/-blue.yaml",
    "products/blue-.yaml",
    "products/blue_shirt.yaml",
    "products/blue.shirt.yaml",
    "products/blue-shirt.YAML",
    "products/blue-shirt.txt",
    "products/blue-shirt",
    f"products/{RIGHT}/blue-shirt",
    "products/.yaml",
    "products/é.yaml",
    f"products/{bucket_for('é')}/é.yaml",
    # ignored: README, dotfiles, outside kind directories, unknown kind directories
    "products/README.md",
    f"products/{RIGHT}/README.md",
    "products/.gitkeep",
    f"products/{RIGHT}/.gitkeep",
    "README.md",
    ".gitstore/layout",
    "docs/intro.md",
    f"docs/{RIGHT}/blue-shirt.yaml",
    "unknown/blue-shirt.yaml",
    "/products/blue-shirt.yaml",
    f"/products/{RIGHT}/blue-shirt.yaml",
    "products/",
    "products",
]


Answer = PathIdentity | list[ContentError] | None


def answer(run: Callable[[str], PathIdentity | None], path: str) -> Answer:
    try:
        return run(path)
    except ManifestError as err:
        return list(err.errors)


@pytest.mark.parametrize("path", PATHS)
def test_fast_path_gives_the_answer_of_every_check(path: str) -> None:
    fast = answer(lambda p: identity_for_path(p, REGISTRY), path)
    full = answer(lambda p: _checked_identity(p, p.split("/"), REGISTRY), path)
    assert fast == full


def test_the_sample_covers_identities_none_and_errors() -> None:
    answers = [answer(lambda p: identity_for_path(p, REGISTRY), p) for p in PATHS]
    assert any(isinstance(a, PathIdentity) and a.layout is Layout.FANOUT for a in answers)
    assert any(isinstance(a, PathIdentity) and a.layout is Layout.FLAT for a in answers)
    assert any(a is None for a in answers)
    assert any(isinstance(a, list) and a for a in answers)
    fan = identity_for_path(f"products/{RIGHT}/blue-shirt.yml", REGISTRY)
    assert fan is not None and (fan.kind, fan.name, fan.format.value) == (
        "Product",
        "blue-shirt",
        "yaml",
    )
    wrong = answer(lambda p: identity_for_path(p, REGISTRY), f"products/{WRONG}/blue-shirt.yaml")
    assert isinstance(wrong, list)
    assert f"belongs in bucket {RIGHT}/" in wrong[0].message


@pytest.mark.parametrize("name", ["blue-shirt", "a", "0", "x" * 63, "sku-000123"])
def test_bucket_is_the_first_two_hex_digits_of_the_sha1(name: str) -> None:
    assert bucket_for(name) == hashlib.sha1(name.encode()).hexdigest()[:2]
