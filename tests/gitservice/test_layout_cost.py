"""The cost of a one-product commit in the fan-out layout: the objects it adds to the object
database are bounded and do not grow with the catalogue (no timing: objects and bytes)."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitstore.domain.content import Layout, path_for
from gitstore.gitservice import treeedit


def _loose(repo_dir: Path) -> dict[str, int]:
    objects = repo_dir / "objects"
    return {str(p): p.stat().st_size for p in objects.glob("??/*") if p.is_file()}


def one_product_commit_cost(tmp: Path, products: int, layout: Layout) -> tuple[int, int]:
    repo = pygit2.init_repository(str(tmp), bare=True)
    blob = repo.create_blob(b"apiVersion: gitstore.dev/v1\nkind: Product\n")
    edits = [
        treeedit.Edit(path_for("Product", f"sku-{i:06d}", layout=layout), blob)
        for i in range(products)
    ]
    base = repo.get(treeedit.apply(repo, None, edits))
    before = _loose(Path(repo.path))
    changed = repo.create_blob(b"apiVersion: gitstore.dev/v1\nkind: Product\n# edited\n")
    edit = treeedit.Edit(path_for("Product", "sku-000042", layout=layout), changed)
    treeedit.apply(repo, base, [edit])
    added = {p: s for p, s in _loose(Path(repo.path)).items() if p not in before}
    return len(added), sum(added.values())


@pytest.mark.parametrize("layout", [Layout.FANOUT])
def test_one_product_commit_adds_kilobytes_whatever_the_catalogue_size(
    tmp_path: Path, layout: Layout
) -> None:
    small_objects, small_bytes = one_product_commit_cost(tmp_path / "small", 1_000, layout)
    big_objects, big_bytes = one_product_commit_cost(tmp_path / "big", 20_000, layout)
    print(
        f"fanout: 1,000 -> {small_objects} objects {small_bytes} B; "
        f"20,000 -> {big_objects} objects {big_bytes} B"
    )
    assert small_objects == big_objects == 4  # blob, bucket tree, kind tree, root tree
    assert big_bytes < 16 * 1024  # kilobytes, not the catalogue
    assert big_bytes < 2 * small_bytes  # 20x the products, under 2x the bytes


def test_the_flat_layout_grows_with_the_catalogue(tmp_path: Path) -> None:
    """The problem the fan-out layout solves: the flat kind tree is rewritten whole."""
    _, small_bytes = one_product_commit_cost(tmp_path / "small", 1_000, Layout.FLAT)
    _, big_bytes = one_product_commit_cost(tmp_path / "big", 20_000, Layout.FLAT)
    print(f"flat: 1,000 -> {small_bytes} B; 20,000 -> {big_bytes} B")
    assert big_bytes > 10 * small_bytes
