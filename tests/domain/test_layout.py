"""Repository layouts: the fan-out rule, both layouts read, the marker, migration moves."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from gitstore.domain.content import (
    LAYOUT_MARKER,
    Layout,
    ManifestError,
    ManifestFormat,
    bucket_for,
    candidate_paths,
    identity_errors,
    identity_for_path,
    layout_moves,
    layout_of,
    marker_content,
    marker_problem,
    parse_manifest,
    path_for,
)
from gitstore.domain.errors import FailedPrecondition


def test_bucket_is_two_hex_digits_of_the_sha1_of_the_name() -> None:
    assert bucket_for("oxford-shirt") == hashlib.sha1(b"oxford-shirt").hexdigest()[:2]
    assert (
        path_for("Product", "oxford-shirt")
        == f"products/{bucket_for('oxford-shirt')}/oxford-shirt.yaml"
    )
    assert path_for("Category", "shoes", ManifestFormat.MARKDOWN, layout=Layout.FLAT) == (
        "categories/shoes.md"
    )


def test_buckets_are_even_for_names_sharing_a_prefix() -> None:
    counts = Counter(bucket_for(f"sku-{i:06d}") for i in range(100_000))
    assert len(counts) == 256
    assert max(counts.values()) < 2 * 100_000 / 256  # ~390 each, none near the whole catalogue


@pytest.mark.parametrize("layout", list(Layout))
def test_both_layouts_map_back_to_the_identity(layout: Layout) -> None:
    path = path_for("Product", "oxford-shirt", ManifestFormat.JSON, layout=layout)
    found = identity_for_path(path)
    assert found is not None
    assert (found.kind, found.name, found.format, found.layout) == (
        "Product",
        "oxford-shirt",
        ManifestFormat.JSON,
        layout,
    )
    assert path in candidate_paths("Product", "oxford-shirt")


def test_a_file_in_the_wrong_bucket_is_an_error_naming_the_right_one() -> None:
    right = bucket_for("oxford-shirt")
    wrong = "00" if right != "00" else "01"
    with pytest.raises(ManifestError) as err:
        identity_for_path(f"products/{wrong}/oxford-shirt.yaml")
    assert err.value.errors[0].rule == "invalid-path"
    assert f"move it to products/{right}/oxford-shirt.yaml" in err.value.errors[0].message


@pytest.mark.parametrize(
    "path", ["products/shoes/a.yaml", "products/ab/cd/a.yaml", "products/AB/a.yaml"]
)
def test_other_subdirectories_are_errors(path: str) -> None:
    with pytest.raises(ManifestError):
        identity_for_path(path)


def test_bucket_hidden_and_readme_files_are_ignored() -> None:
    assert identity_for_path("products/ab/.gitkeep") is None
    assert identity_for_path(LAYOUT_MARKER) is None


def test_identity_mismatch_hint_stays_in_the_layout() -> None:
    raw = "apiVersion: gitstore.dev/v1\nkind: Category\nmetadata: {name: a}\nspec: {title: A}\n"
    path = path_for("Product", "a")
    errors = identity_errors(parse_manifest(raw, path))
    assert f"move it to categories/{bucket_for('a')}/a.yaml" in errors[0].message


def test_layout_of_marker_and_history() -> None:
    assert layout_of(None, has_commits=False) is Layout.FANOUT  # a new repository
    assert layout_of(None, has_commits=True) is Layout.FLAT  # made before the marker
    assert layout_of(marker_content(Layout.FANOUT), has_commits=True) is Layout.FANOUT
    assert layout_of(b"flat", has_commits=True) is Layout.FLAT
    with pytest.raises(FailedPrecondition):
        layout_of(b"spiral\n", has_commits=True)
    assert marker_problem(b"fanout\n") is None
    assert marker_problem(b"spiral") is not None


def test_layout_moves_lists_flat_manifests_only() -> None:
    fan = path_for("Product", "b")
    moves = layout_moves(
        ["products/a.yml", fan, "README.md", "products/Bad.yaml", "categories/c.json"]
    )
    assert moves == [
        ("categories/c.json", path_for("Category", "c", ManifestFormat.JSON)),
        ("products/a.yml", path_for("Product", "a").removesuffix(".yaml") + ".yml"),
    ]


def test_layout_errors_refuse_flat_spelling_only_in_a_fanout_repository() -> None:
    from gitstore.domain.content import layout_errors

    paths = ["products/a.yaml", f"products/{bucket_for('b')}/b.json", "README.md", "docs/x.md"]
    (error,) = layout_errors(paths, Layout.FANOUT)
    assert (error.path, error.rule) == ("products/a.yaml", "layout")
    assert error.message.endswith(f"move the file to products/{bucket_for('a')}/a.yaml")
    assert layout_errors(paths, Layout.FLAT) == []  # flat repositories accept both


def test_marker_errors() -> None:
    from gitstore.domain.content import marker_errors

    assert marker_errors(b"fanout\n") == [] and marker_errors(b"flat") == []
    (bad,) = marker_errors(b"sharded\n")
    assert (bad.path, bad.rule) == (".gitstore/layout", "layout")
    assert "'sharded'" in bad.message
    (gone,) = marker_errors(None, was=Layout.FANOUT)
    assert "cannot be deleted" in gone.message
    assert marker_errors(None, was=Layout.FLAT) == [] and marker_errors(None) == []
