"""A catalogue repository of N products built in-process with pygit2 tree building.

Every file of ``_products.files(count)`` (real manifests of the built-in kinds, at the paths
the content model's ``path_for`` gives) is written as a blob; the trees are built bottom-up
with ``TreeBuilder`` (any directory depth, so a fan-out layout works unchanged), one commit
points ``refs/heads/main`` at the root. Then ``git repack -a -d`` packs the objects, as a
maintained repository's would be. ~10-20 s for 100,000 products, no 100,000 commits.
Cached under ``bench/.cache/`` per size and layout fingerprint; benchmarks use copies.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _catalog
import _products
import pygit2

BRANCH = "main"


def _write_tree(repo: pygit2.Repository, node: dict[str, Any]) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    for name, child in node.items():
        if isinstance(child, dict):
            builder.insert(name, _write_tree(repo, child), pygit2.enums.FileMode.TREE)
        else:
            builder.insert(name, child, pygit2.enums.FileMode.BLOB)
    return builder.write()


def build(count: int, dest: Path, progress: Callable[[int, int], None] | None = None) -> None:
    repo = pygit2.init_repository(str(dest), bare=True, initial_head=f"refs/heads/{BRANCH}")
    total = _products.total_files(count)
    root: dict[str, Any] = {}
    for written, (path, content) in enumerate(_products.files(count), 1):
        *dirs, name = path.split("/")
        node = root
        for part in dirs:
            node = node.setdefault(part, {})
        node[name] = repo.create_blob(content)
        if progress is not None and written % 2000 == 0:
            progress(written, total)
    tree = _write_tree(repo, root)
    sig = pygit2.Signature("Bench", "bench@example.com", _catalog.EPOCH, 0)
    repo.create_commit(f"refs/heads/{BRANCH}", sig, sig, f"Import {count} products", tree, [])
    del repo
    subprocess.run(["git", "--git-dir", str(dest), "repack", "-a", "-d", "-q"], check=True)
    if progress is not None:
        progress(total, total)


def cached(count: int, progress: Callable[[int, int], None] | None = None) -> Path:
    name = f"pygit2-{_products.CONTENT.name}{_products.CONTENT.version}-{count}.git"
    path = _catalog.CACHE_DIR / name
    if path.is_dir():  # only ever created by an atomic rename of a complete build
        return path
    _catalog.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"build-{count}-", dir=_catalog.CACHE_DIR))
    try:
        build(count, staging / "repo.git", progress)
        (staging / "repo.git").rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def repo_bytes(path: Path) -> int:
    """Bytes of the repository's object store (what grows): every file under ``objects/``."""
    return sum(f.stat().st_size for f in (path / "objects").rglob("*") if f.is_file())
