"""Reads of a commit that never change are made once: the id of a commit's ``kinds/`` tree
(``KindsLoader.tree_id``) and the paths changed between two commits (``changes.changed``).
Real git service over gRPC; the counting client only counts calls to the real one."""

from __future__ import annotations

from typing import Any

from gitstore.git.client import GitClient
from gitstore.git.kinds import EMPTY, KindsLoader
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker.changes import changed
from tests.worker.harness import commit, head_of


class CountingGit:
    """The real client, with ``get_changed_paths`` calls counted."""

    def __init__(self, git: GitClient) -> None:
        self.git = git
        self.diffs = 0

    async def get_changed_paths(self, request: pb.GetChangedPathsRequest) -> list[Any]:
        self.diffs += 1
        return await self.git.get_changed_paths(request)


async def test_kinds_tree_of_a_commit_is_read_once(git: GitClient, repo: str) -> None:
    await commit(git, repo, {"products/a.yaml": b"x: 1\n"})
    before = await head_of(git, repo)
    await commit(git, repo, {"kinds/brands.yaml": b"x: 1\n"})
    after = await head_of(git, repo)
    loader = KindsLoader(git)

    assert await loader.tree_id(repo, before) == EMPTY
    first = await loader.tree_id(repo, after)
    assert first != EMPTY
    assert loader.tree_reads == 2
    assert await loader.tree_id(repo, before) == EMPTY  # remembered: no kinds/ at all
    assert await loader.tree_id(repo, after) == first
    assert loader.tree_reads == 2

    # a ref moves: it is read every time, and a new commit gets its own tree id
    assert await loader.tree_id(repo, "refs/heads/main") == first
    await commit(git, repo, {"kinds/other.yaml": b"y: 2\n"})
    moved = await loader.tree_id(repo, "refs/heads/main")
    assert moved not in (first, EMPTY)
    assert loader.tree_reads == 4
    assert await loader.tree_id(repo, await head_of(git, repo)) == moved
    assert await loader.tree_id(repo, after) == first  # the old commit still answers its own


async def test_diff_between_two_commits_is_read_once(git: GitClient, repo: str) -> None:
    await commit(git, repo, {"products/a.yaml": b"x: 1\n"})
    base = await head_of(git, repo)
    await commit(git, repo, {"products/b.yaml": b"x: 2\n"}, ["products/a.yaml"])
    target = await head_of(git, repo)
    counting = CountingGit(git)

    first = await changed(counting, repo, base, target)  # type: ignore[arg-type]
    again = await changed(counting, repo, base, target)  # type: ignore[arg-type]
    assert sorted(p.path for p in first) == ["products/a.yaml", "products/b.yaml"]
    assert [p.path for p in again] == [p.path for p in first]
    assert counting.diffs == 1

    # not remembered: a ref (it moves) and a diff from nothing
    await changed(counting, repo, base, "refs/heads/main")  # type: ignore[arg-type]
    await changed(counting, repo, base, "refs/heads/main")  # type: ignore[arg-type]
    await changed(counting, repo, None, target)  # type: ignore[arg-type]
    await changed(counting, repo, None, target)  # type: ignore[arg-type]
    assert counting.diffs == 5
