"""CommitFiles with ``rebase``: a path-level precondition instead of a head-level one.

A commit planned at ``expected_head`` lands on a later head when none of the paths it edits
or read changed in between; otherwise it is refused as before.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from gitstore.config import Settings
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.helpers import A, action, commit, git, repo_path, rpc_error


def upsert(path: str, content: bytes) -> pb.CommitAction:
    return action(A.ACTION_TYPE_UPSERT, path, content)


@pytest.fixture
def base(stub: pb_grpc.GitServiceStub, repo: str) -> str:
    return commit(
        stub,
        repo,
        upsert("products/a.yaml", b"a0"),
        upsert("products/b.yaml", b"b0"),
        upsert("categories/shirts.yaml", b"shirts"),
    ).commit_sha


def test_without_rebase_a_moved_branch_refuses_even_for_another_file(
    stub: pb_grpc.GitServiceStub, repo: str, base: str
) -> None:
    commit(stub, repo, upsert("products/a.yaml", b"a1"))
    error = rpc_error(
        lambda: commit(stub, repo, upsert("products/b.yaml", b"b1"), expected_head=base)
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_rebase_applies_onto_the_new_head_when_the_paths_are_unchanged(
    stub: pb_grpc.GitServiceStub, repo: str, base: str, settings: Settings
) -> None:
    other = commit(stub, repo, upsert("products/a.yaml", b"a1")).commit_sha
    done = commit(
        stub,
        repo,
        upsert("products/b.yaml", b"b1"),
        expected_head=base,
        rebase=True,
        read_paths=["categories/shirts.yaml", "products/b.json"],
    )
    assert done.old_head == other and done.rebased_from == base
    path = repo_path(settings, repo)
    assert git(path, "rev-parse", f"{done.commit_sha}^").strip() == other
    assert git(path, "show", "main:products/a.yaml") == "a1"  # nothing lost
    assert git(path, "show", "main:products/b.yaml") == "b1"
    assert [c.path for c in done.changed_paths] == ["products/b.yaml"]
    assert (
        done.changed_paths[0].old_blob_id
        == git(path, "rev-parse", f"{base}:products/b.yaml").strip()
    )


def test_rebase_at_an_unmoved_head_is_a_plain_commit(
    stub: pb_grpc.GitServiceStub, repo: str, base: str
) -> None:
    done = commit(stub, repo, upsert("products/b.yaml", b"b1"), expected_head=base, rebase=True)
    assert done.old_head == base and done.rebased_from == ""


@pytest.mark.parametrize(
    ("concurrent", "read_paths"),
    [
        (upsert("products/b.yaml", b"b-other"), []),  # the edited file itself
        (action(A.ACTION_TYPE_DELETE, "products/b.yaml"), []),
        (upsert("products/b.json", b"{}"), ["products/b.json"]),  # a read path appeared
        (action(A.ACTION_TYPE_DELETE, "categories/shirts.yaml"), ["categories/shirts.yaml"]),
        (upsert("categories/tees.yaml", b"tees"), ["categories"]),  # inside a read directory
    ],
)
def test_rebase_refuses_when_a_watched_path_changed(
    stub: pb_grpc.GitServiceStub,
    repo: str,
    base: str,
    settings: Settings,
    concurrent: pb.CommitAction,
    read_paths: list[str],
) -> None:
    head = commit(stub, repo, concurrent).commit_sha
    error = rpc_error(
        lambda: commit(
            stub,
            repo,
            upsert("products/b.yaml", b"b1"),
            expected_head=base,
            rebase=True,
            read_paths=read_paths,
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "a path the commit depends on changed" in (error.details() or "")
    assert git(repo_path(settings, repo), "rev-parse", "main").strip() == head


def test_a_path_changed_and_changed_back_is_unchanged(
    stub: pb_grpc.GitServiceStub, repo: str, base: str
) -> None:
    commit(stub, repo, upsert("products/b.yaml", b"b-temp"))
    commit(stub, repo, upsert("products/b.yaml", b"b0"))
    done = commit(stub, repo, upsert("products/b.yaml", b"b1"), expected_head=base, rebase=True)
    assert done.rebased_from == base


def test_rebase_from_an_unknown_commit_or_onto_no_branch_is_refused(
    stub: pb_grpc.GitServiceStub, repo: str, base: str
) -> None:
    commit(stub, repo, upsert("products/a.yaml", b"a1"))
    unknown = "1" * 40
    error = rpc_error(
        lambda: commit(
            stub, repo, upsert("products/b.yaml", b"b1"), expected_head=unknown, rebase=True
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    error = rpc_error(
        lambda: commit(
            stub,
            repo,
            upsert("x", b"x"),
            branch="feature",
            expected_head=base,
            rebase=True,
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_bad_read_paths_are_invalid(stub: pb_grpc.GitServiceStub, repo: str, base: str) -> None:
    for bad in (["../x"], ["a//b"], [""]):
        error = rpc_error(
            lambda bad=bad: commit(
                stub,
                repo,
                upsert("products/b.yaml", b"b1"),
                expected_head=base,
                rebase=True,
                read_paths=bad,
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("rebase", [False, True])
def test_twenty_writers_from_one_head(
    stub: pb_grpc.GitServiceStub, repo: str, base: str, settings: Settings, rebase: bool
) -> None:
    """All planned at the same head, each on its own file: without ``rebase`` one lands and
    19 are refused (the fault); with it all 20 land, on one line of history."""

    def one(i: int) -> pb.CommitFilesResponse | grpc.RpcError:
        try:
            return commit(
                stub,
                repo,
                upsert(f"products/p{i:02d}.yaml", b"%d" % i),
                expected_head=base,
                rebase=rebase,
                read_paths=[f"products/p{i:02d}.json"],
            )
        except grpc.RpcError as exc:
            return exc

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    landed = [r for r in results if isinstance(r, pb.CommitFilesResponse)]
    path = repo_path(settings, repo)
    if not rebase:
        assert len(landed) == 1
        assert all(
            r.code() == grpc.StatusCode.FAILED_PRECONDITION
            for r in results
            if isinstance(r, grpc.RpcError)
        )
        return
    assert len(landed) == 20
    shas = git(path, "rev-list", "main").split()
    assert len(shas) == 21
    parents = git(path, "rev-list", "--parents", "main").splitlines()
    assert all(len(line.split()) <= 2 for line in parents)
    files = git(path, "ls-tree", "-r", "--name-only", "main").split()
    assert sorted(f for f in files if "/p" in f) == [f"products/p{i:02d}.yaml" for i in range(20)]
    for i in range(20):
        assert git(path, "show", f"main:products/p{i:02d}.yaml") == str(i)


def test_creating_a_branch_rebases_onto_one_created_meanwhile(
    stub: pb_grpc.GitServiceStub, settings: Settings
) -> None:
    """Planned on an unborn branch (expected all zeros): it lands on the branch another
    writer created meanwhile if its paths are still absent there, else it is refused."""
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/fresh"))
    zero = "0" * 40
    first = commit(stub, "acme/fresh", upsert("products/a.yaml", b"a"), expected_head=zero)
    second = commit(
        stub,
        "acme/fresh",
        upsert("products/b.yaml", b"b"),
        expected_head=zero,
        rebase=True,
        read_paths=["products/b.json"],
    )
    assert second.old_head == first.commit_sha and second.rebased_from == zero
    error = rpc_error(
        lambda: commit(
            stub, "acme/fresh", upsert("products/a.yaml", b"a2"), expected_head=zero, rebase=True
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    # a new branch planned at a full commit id rebases against that commit
    third = commit(
        stub,
        "acme/fresh",
        upsert("products/c.yaml", b"c"),
        branch="feature",
        expected_head=zero,
        start_revision=first.commit_sha,
        rebase=True,
    )
    fourth = commit(
        stub,
        "acme/fresh",
        upsert("products/d.yaml", b"d"),
        branch="feature",
        expected_head=zero,
        start_revision=first.commit_sha,
        rebase=True,
    )
    assert fourth.old_head == third.commit_sha
    path = repo_path(settings, "acme/fresh")
    assert git(path, "ls-tree", "-r", "--name-only", "feature").split() == [
        "products/a.yaml",
        "products/c.yaml",
        "products/d.yaml",
    ]
