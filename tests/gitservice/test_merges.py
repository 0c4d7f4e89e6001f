"""MergeBase, WriteCommit and UpdateBranch on a real git service (gitservice/merges.py)."""

from __future__ import annotations

import grpc

from gitstore.config import Settings
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.events_util import collect_events
from tests.gitservice.helpers import AUTHOR, A, action, commit, git, repo_path, rpc_error


def setup(stub: pb_grpc.GitServiceStub, repo: str) -> tuple[str, str]:
    base = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "products/a.yaml", b"a: 1\n"))
    feature = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "products/b.yaml", b"b: 1\n"),
        branch="feature",
        start_revision=base.commit_sha,
    )
    return base.commit_sha, feature.commit_sha


async def test_merge_commit_then_fast_forward_the_target(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    base, feature = setup(stub, repo)
    main = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "products/c.yaml", b"c: 1\n"))
    found = stub.MergeBase(pb.MergeBaseRequest(repository_id=repo, left="main", right="feature"))
    assert (found.merge_base, found.left_is_ancestor) == (base, False)
    ff = stub.MergeBase(pb.MergeBaseRequest(repository_id=repo, left=base, right="feature"))
    assert ff.left_is_ancestor

    written = stub.WriteCommit(
        pb.WriteCommitRequest(
            repository_id=repo,
            base_revision=main.commit_sha,
            parent_revisions=[main.commit_sha, feature],
            author=AUTHOR,
            message="Merge feature",
            actions=[action(A.ACTION_TYPE_UPSERT, "products/b.yaml", b"b: 1\n")],
        )
    )
    path = repo_path(settings, repo)
    assert git(path, "rev-parse", "main").strip() == main.commit_sha  # no ref moved
    parents = git(path, "rev-list", "--parents", "-n1", written.commit_sha).split()
    assert parents[1:] == [main.commit_sha, feature]

    moved = stub.UpdateBranch(
        pb.UpdateBranchRequest(
            repository_id=repo,
            branch="main",
            expected_head=main.commit_sha,
            new_target=written.commit_sha,
            trailers=pb.Trailers(actor="ada", request_id="merge-1"),
        )
    )
    assert [c.path for c in moved.changed_paths] == ["products/b.yaml"]
    assert git(path, "rev-parse", "main").strip() == written.commit_sha
    assert sorted(git(path, "ls-tree", "-r", "--name-only", "main").split()) == [
        "products/a.yaml",
        "products/b.yaml",
        "products/c.yaml",
    ]
    events = await collect_events(
        settings, lambda got: any(e.correlation_id == "merge-1" for e in got)
    )
    merge = [e for e in events if e.correlation_id == "merge-1"]
    assert len(merge) == 1
    assert (merge[0].old, merge[0].new) == (main.commit_sha, written.commit_sha)
    assert [p.path for p in merge[0].changed_paths] == ["products/b.yaml"]


def test_update_branch_refuses_stale_heads_and_non_fast_forwards(
    stub: pb_grpc.GitServiceStub, repo: str
) -> None:
    base, feature = setup(stub, repo)
    main = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "products/c.yaml", b"c: 1\n"))
    stale = rpc_error(
        lambda: stub.UpdateBranch(
            pb.UpdateBranchRequest(
                repository_id=repo, branch="main", expected_head=base, new_target=feature
            )
        )
    )
    assert stale.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expected_head" in str(stale.details())
    diverged = rpc_error(
        lambda: stub.UpdateBranch(
            pb.UpdateBranchRequest(
                repository_id=repo, branch="main", expected_head=main.commit_sha, new_target=feature
            )
        )
    )
    assert diverged.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not a fast-forward" in str(diverged.details())
    missing = rpc_error(
        lambda: stub.WriteCommit(
            pb.WriteCommitRequest(repository_id=repo, base_revision="main", author=AUTHOR)
        )
    )
    assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT
