"""``reads._PathLookup``: many paths of one tree looked up with each directory read once
must answer exactly what ``tree[path]`` answers, for every shape of path."""

from __future__ import annotations

from pathlib import Path

import pygit2

from gitstore.gitservice.reads import _lookup, _PathLookup


def _tree(tmp_path: Path) -> pygit2.Tree:
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    index = pygit2.Index()
    files = [
        "top.yaml",
        "products/51/classic-tee.yaml",
        "products/51/other.yaml",
        "products/a0/x.yaml",
        "kinds/brand.yaml",
        "deep/a/b/c/d.json",
    ]
    for i, path in enumerate(files):
        blob = repo.create_blob(f"content {i}".encode())
        index.add(pygit2.IndexEntry(path, blob, pygit2.GIT_FILEMODE_BLOB))
    return repo[index.write_tree(repo)]  # type: ignore[return-value]


def _answer(obj: pygit2.Object | None) -> tuple[str, str] | None:
    return None if obj is None else (obj.type_str, str(obj.id))


def test_same_answers_as_a_lookup_by_path(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    lookup = _PathLookup(tree)
    paths = [
        "top.yaml",
        "products/51/classic-tee.yaml",
        "products/51/other.yaml",
        "products/a0/x.yaml",
        "products/51",  # a directory: answered as the tree, the caller refuses it
        "products",
        "deep/a/b/c/d.json",
        "deep/a/b",
        "products/51/missing.yaml",  # missing in a directory that exists
        "products/ff/missing.yaml",  # a directory that does not exist
        "nowhere/at/all.yaml",
        "top.yaml/inside",  # a file used as a directory
        "products/51/classic-tee.yaml/x",
        "kinds/brand.yaml",
    ]
    # twice, so cached directories (present and absent) answer the same as the first time
    for path in paths + paths:
        assert _answer(lookup(path)) == _answer(_lookup(tree, path)), path
    assert lookup("products/51/classic-tee.yaml") is not None
    assert lookup("products/ff/missing.yaml") is None
