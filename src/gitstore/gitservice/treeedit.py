"""Edit a Git tree by path without reading the rest of the repository.

``apply(repo, base, edits)`` returns the id of ``base`` with each edit applied: an edit puts
a blob (id, mode) at a path, or removes the path. The edits are first arranged into a small
tree of their own (one node per directory they touch); then, bottom-up, each touched
directory is loaded into a ``TreeBuilder``, its touched entries replaced, and written once.
Untouched sibling directories are carried over by id, never opened.

Cost: for every directory on a changed path, one tree read and one tree write, each
proportional to the entries of *that directory*. Nothing is proportional to the total size
of the repository: no index, no checkout, no walk of the full tree.

Removing the last entry of a directory removes the directory (git has no empty trees except
the root). A path whose parent is a file, or two edits where one path is a prefix of the
other, are errors naming the paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygit2
from pygit2.enums import FileMode

from gitstore.domain.errors import FailedPrecondition, InvalidArgument


@dataclass(frozen=True, slots=True)
class Edit:
    """Put ``(oid, mode)`` at ``path``, or remove ``path`` when ``oid`` is None."""

    path: str
    oid: pygit2.Oid | None = None
    mode: int = FileMode.BLOB


_Node = dict[str, "_Node | Edit"]


def _plan(edits: list[Edit]) -> _Node:
    root: _Node = {}
    for edit in edits:
        *dirs, leaf = edit.path.split("/")
        node = root
        walked: list[str] = []
        for name in dirs:
            walked.append(name)
            child = node.setdefault(name, {})
            if isinstance(child, Edit):
                raise InvalidArgument(
                    f"conflicting actions: {'/'.join(walked)!r} and {edit.path!r}", field="actions"
                )
            node = child
        if leaf in node:
            other = node[leaf]
            other_path = other.path if isinstance(other, Edit) else f"{edit.path}/..."
            raise InvalidArgument(
                f"conflicting actions: {other_path!r} and {edit.path!r}", field="actions"
            )
        node[leaf] = edit
    return root


def _write(
    repo: pygit2.Repository, tree: pygit2.Tree | None, node: _Node, prefix: str
) -> pygit2.Oid | None:
    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    for name, item in node.items():
        existing: pygit2.Object | None = builder.get(name)  # None when absent
        if isinstance(item, Edit):
            if item.oid is None:
                if existing is not None:
                    builder.remove(name)
            else:
                builder.insert(name, item.oid, item.mode)
            continue
        if existing is not None and not isinstance(existing, pygit2.Tree):
            raise FailedPrecondition(
                f"{prefix + name!r} is a file, so it cannot hold {prefix + name + '/'!r} paths",
                field="actions",
            )
        subtree = existing
        oid = _write(repo, subtree, item, f"{prefix}{name}/")
        if oid is None:
            if existing is not None:
                builder.remove(name)
        else:
            builder.insert(name, oid, FileMode.TREE)
    if len(builder) == 0:
        return None
    return builder.write()


def apply(repo: pygit2.Repository, base: pygit2.Tree | None, edits: list[Edit]) -> pygit2.Oid:
    """The id of ``base`` (None = empty tree) with ``edits`` applied."""
    oid = _write(repo, base, _plan(edits), "")
    if oid is None:
        return repo.TreeBuilder().write()
    return oid


__all__ = ["Edit", "apply"]
