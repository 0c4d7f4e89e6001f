"""CreateRepository, DeleteRepository, ListRepositories through a real server."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from gitstore.config import Settings
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.helpers import A, action, commit, git, repo_path, rpc_error

BAD_IDS = [
    "Acme/x",
    "a/b/c",
    "../x",
    "-a/b",
    "a-/b",
    "a/" + "x" * 64,
    "x" * 64 + "/a",
    "",
    "a",
    "a/",
    "/a",
    "a/b.git",
    "a/.",
    "a/..",
    "a\x00/b",
    "a/ b",
    "ü/b",
]


def test_create_list_delete(stub: pb_grpc.GitServiceStub, settings: Settings) -> None:
    created = stub.CreateRepository(
        pb.CreateRepositoryRequest(
            repository_id="acme/shoes", default_branch="trunk", description="Shoe catalogue"
        )
    ).repository
    assert (created.repository_id, created.default_branch, created.description) == (
        "acme/shoes",
        "trunk",
        "Shoe catalogue",
    )
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/hats"))
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="other/x"))
    path = repo_path(settings, "acme/shoes")
    assert git(path, "symbolic-ref", "HEAD").strip() == "refs/heads/trunk"
    assert git(path, "rev-parse", "--is-bare-repository").strip() == "true"

    listed = stub.ListRepositories(pb.ListRepositoriesRequest()).repositories
    assert [(r.repository_id, r.default_branch, r.description) for r in listed] == [
        ("acme/hats", "main", ""),
        ("acme/shoes", "trunk", "Shoe catalogue"),
        ("other/x", "main", ""),
    ]
    only = stub.ListRepositories(pb.ListRepositoriesRequest(namespace="other")).repositories
    assert [r.repository_id for r in only] == ["other/x"]
    assert not stub.ListRepositories(pb.ListRepositoriesRequest(namespace="none")).repositories

    stub.DeleteRepository(pb.DeleteRepositoryRequest(repository_id="acme/shoes"))
    assert not path.exists()
    assert not any((settings.repos_dir() / ".trash").iterdir())
    listed = stub.ListRepositories(pb.ListRepositoriesRequest()).repositories
    assert [r.repository_id for r in listed] == ["acme/hats", "other/x"]
    stub.DeleteRepository(pb.DeleteRepositoryRequest(repository_id="other/x"))
    assert not (settings.repos_dir() / "other").exists()  # empty namespace dir removed


def test_error_codes(stub: pb_grpc.GitServiceStub) -> None:
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/shoes"))
    err = rpc_error(
        lambda: stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/shoes"))
    )
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "acme/shoes already exists" in (err.details() or "")
    err = rpc_error(
        lambda: stub.DeleteRepository(pb.DeleteRepositoryRequest(repository_id="acme/none"))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = rpc_error(
        lambda: stub.CreateRepository(
            pb.CreateRepositoryRequest(repository_id="acme/x", default_branch="a..b")
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "a..b" in (err.details() or "")
    err = rpc_error(lambda: stub.ListRepositories(pb.ListRepositoriesRequest(namespace="Bad")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_recreated_repository_is_fresh(stub: pb_grpc.GitServiceStub) -> None:
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/x"))
    commit(stub, "acme/x", action(A.ACTION_TYPE_CREATE, "a", b"1"))
    stub.DeleteRepository(pb.DeleteRepositoryRequest(repository_id="acme/x"))
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/x"))
    err = rpc_error(lambda: stub.ResolveRevision(pb.ResolveRevisionRequest(repository_id="acme/x")))
    assert err.code() == grpc.StatusCode.NOT_FOUND  # no commits: the old handle is not reused


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_repository_ids_are_invalid_argument_everywhere(
    stub: pb_grpc.GitServiceStub, bad: str
) -> None:
    calls = [
        lambda: stub.CreateRepository(pb.CreateRepositoryRequest(repository_id=bad)),
        lambda: stub.DeleteRepository(pb.DeleteRepositoryRequest(repository_id=bad)),
        lambda: stub.ResolveRevision(pb.ResolveRevisionRequest(repository_id=bad)),
        lambda: stub.ListTree(pb.ListTreeRequest(repository_id=bad)),
        lambda: stub.CommitFiles(pb.CommitFilesRequest(repository_id=bad)),
    ]
    for call in calls:
        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (bad, err.details())
        assert "repository" in (err.details() or "") or "namespace" in (err.details() or "")


def test_unknown_repository_is_not_found_everywhere(stub: pb_grpc.GitServiceStub) -> None:
    rid = "acme/missing"
    calls = [
        lambda: stub.ResolveRevision(pb.ResolveRevisionRequest(repository_id=rid)),
        lambda: stub.ListRefs(pb.ListRefsRequest(repository_id=rid)),
        lambda: stub.ListTree(pb.ListTreeRequest(repository_id=rid)),
        lambda: stub.GetBlobs(pb.GetBlobsRequest(repository_id=rid, paths=["a"])),
        lambda: stub.CommitLog(pb.CommitLogRequest(repository_id=rid)),
        lambda: stub.GetChangedPaths(pb.GetChangedPathsRequest(repository_id=rid)),
        lambda: commit(stub, rid, action(A.ACTION_TYPE_CREATE, "a", b"1")),
        lambda: stub.CreateBranch(pb.CreateBranchRequest(repository_id=rid, branch="b")),
        lambda: stub.DeleteTag(pb.DeleteTagRequest(repository_id=rid, tag="t")),
    ]
    for call in calls:
        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.NOT_FOUND
        assert "acme/missing not found" in (err.details() or "")


def test_nothing_is_written_outside_the_data_dir(
    stub: pb_grpc.GitServiceStub, settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # A namespace directory that is a symlink to somewhere else is refused, not followed.
    os.symlink(outside, settings.repos_dir() / "evil")
    err = rpc_error(
        lambda: stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="evil/x"))
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    for bad in ("../outside", "acme/../../outside"):
        rpc_error(
            lambda bad=bad: stub.CreateRepository(pb.CreateRepositoryRequest(repository_id=bad))
        )
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/x"))
    for path in ("../../../../outside/f", "/tmp/abs", "a/../../x"):
        err = rpc_error(
            lambda p=path: commit(stub, "acme/x", action(A.ACTION_TYPE_CREATE, p, b"1"))
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(outside.iterdir()) == []
    data_files = {p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*")}
    assert all(not str(p).startswith("..") for p in data_files)
