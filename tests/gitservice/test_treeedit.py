"""Unit tests of the tree editor on a real bare repository (pygit2)."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest
from pygit2.enums import FileMode, Option

from gitstore.domain.errors import FailedPrecondition, InvalidArgument
from gitstore.gitservice.treeedit import Edit, apply


@pytest.fixture
def repo(tmp_path: Path) -> pygit2.Repository:
    return pygit2.init_repository(str(tmp_path / "r.git"), bare=True)


def files(repo: pygit2.Repository, tree_id: pygit2.Oid) -> dict[str, bytes]:
    out: dict[str, bytes] = {}

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            if isinstance(entry, pygit2.Tree):
                walk(entry, f"{prefix}{entry.name}/")
            else:
                assert isinstance(entry, pygit2.Blob)
                out[prefix + entry.name] = entry.data

    tree = repo.get(tree_id)
    assert isinstance(tree, pygit2.Tree)
    walk(tree, "")
    return out


def put(repo: pygit2.Repository, path: str, data: bytes) -> Edit:
    return Edit(path, repo.create_blob(data), FileMode.BLOB)


def test_builds_nested_trees_and_removes_emptied_directories(repo: pygit2.Repository) -> None:
    one = apply(
        repo, None, [put(repo, "a/b/c.txt", b"c"), put(repo, "a/d.txt", b"d"), put(repo, "e", b"e")]
    )
    assert files(repo, one) == {"a/b/c.txt": b"c", "a/d.txt": b"d", "e": b"e"}
    base = repo.get(one)
    assert isinstance(base, pygit2.Tree)
    two = apply(repo, base, [Edit("a/b/c.txt"), put(repo, "a/d.txt", b"D")])
    assert files(repo, two) == {"a/d.txt": b"D", "e": b"e"}
    tree_two = repo.get(two)
    assert isinstance(tree_two, pygit2.Tree)
    assert "b" not in tree_two["a"]  # type: ignore[operator]
    empty = apply(repo, tree_two, [Edit("a/d.txt"), Edit("e")])
    assert empty == repo.TreeBuilder().write()


def test_untouched_directories_are_never_read(repo: pygit2.Repository) -> None:
    # The root refers to a subtree object that does not exist. Editing elsewhere must still
    # work: the editor carries untouched entries over by id and never opens them.
    missing = pygit2.Oid(hex="1" * 40)
    pygit2.option(Option.ENABLE_STRICT_OBJECT_CREATION, False)
    try:
        builder = repo.TreeBuilder()
        builder.insert("huge", missing, FileMode.TREE)
        builder.insert("other", apply(repo, None, [put(repo, "x", b"x")]), FileMode.TREE)
        root = repo.get(builder.write())
    finally:
        pygit2.option(Option.ENABLE_STRICT_OBJECT_CREATION, True)
    assert isinstance(root, pygit2.Tree)
    edited = repo.get(apply(repo, root, [put(repo, "other/y", b"y"), put(repo, "top", b"t")]))
    assert isinstance(edited, pygit2.Tree)
    assert edited["huge"].id == missing
    assert sorted(e.name for e in edited) == ["huge", "other", "top"]


def test_conflicts_and_files_used_as_directories(repo: pygit2.Repository) -> None:
    with pytest.raises(InvalidArgument, match="conflicting actions"):
        apply(repo, None, [put(repo, "a", b"1"), put(repo, "a/b", b"2")])
    with pytest.raises(InvalidArgument, match="conflicting actions"):
        apply(repo, None, [put(repo, "a/b", b"2"), put(repo, "a", b"1")])
    with pytest.raises(InvalidArgument, match="conflicting actions"):
        apply(repo, None, [put(repo, "a", b"1"), Edit("a")])
    base = repo.get(apply(repo, None, [put(repo, "f", b"1")]))
    assert isinstance(base, pygit2.Tree)
    with pytest.raises(FailedPrecondition, match="'f' is a file"):
        apply(repo, base, [put(repo, "f/g", b"2")])
