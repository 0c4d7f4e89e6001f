"""Branches, tags and ListRefs through a real server."""

from __future__ import annotations

import grpc

from gitstore.config import Settings
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.helpers import A, action, commit, git, repo_path, rpc_error

TAGGER = pb.Signature(name="Release Bot", email="release@example.com", time=1700000000)


def test_branches(stub: pb_grpc.GitServiceStub, repo: str, settings: Settings) -> None:
    first = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1")).commit_sha
    second = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "b", b"2")).commit_sha
    ref = stub.CreateBranch(
        pb.CreateBranchRequest(repository_id=repo, branch="feature/x", start_revision="main~1")
    ).ref
    assert (ref.name, ref.target, ref.peeled) == ("refs/heads/feature/x", first, first)
    assert git(repo_path(settings, repo), "rev-parse", "feature/x").strip() == first
    head_default = stub.CreateBranch(pb.CreateBranchRequest(repository_id=repo, branch="copy")).ref
    assert head_default.target == second

    err = rpc_error(
        lambda: stub.CreateBranch(pb.CreateBranchRequest(repository_id=repo, branch="copy"))
    )
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    for bad in ("a..b", "HEAD", "-x", "x.lock", ""):
        err = rpc_error(
            lambda b=bad: stub.CreateBranch(pb.CreateBranchRequest(repository_id=repo, branch=b))
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
    err = rpc_error(
        lambda: stub.CreateBranch(
            pb.CreateBranchRequest(repository_id=repo, branch="y", start_revision="nope")
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND

    # delete with a stale precondition, then a correct one, then again
    err = rpc_error(
        lambda: stub.DeleteBranch(
            pb.DeleteBranchRequest(repository_id=repo, branch="feature/x", expected_head=second)
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    deleted = stub.DeleteBranch(
        pb.DeleteBranchRequest(
            repository_id=repo, branch="refs/heads/feature/x", expected_head=first
        )
    )
    assert deleted.old_head == first
    err = rpc_error(
        lambda: stub.DeleteBranch(pb.DeleteBranchRequest(repository_id=repo, branch="feature/x"))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert (
        stub.DeleteBranch(pb.DeleteBranchRequest(repository_id=repo, branch="copy")).old_head
        == second
    )
    err = rpc_error(
        lambda: stub.DeleteBranch(pb.DeleteBranchRequest(repository_id=repo, branch="main"))
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "default branch" in (err.details() or "")


def test_tags(stub: pb_grpc.GitServiceStub, repo: str, settings: Settings) -> None:
    head = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1")).commit_sha
    created = stub.CreateTag(
        pb.CreateTagRequest(
            repository_id=repo,
            tag="release/1.0",
            message="First release",
            tagger=TAGGER,
            trailers=pb.Trailers(actor="agent:1"),
        )
    )
    assert created.ref.name == "refs/tags/release/1.0"
    assert created.ref.target == created.tag_object_sha != head
    assert created.ref.peeled == head
    path = repo_path(settings, repo)
    raw = git(path, "cat-file", "tag", "release/1.0")
    assert raw.startswith(f"object {head}\ntype commit\ntag release/1.0\n")
    assert "tagger Release Bot <release@example.com> 1700000000 +0000" in raw
    assert raw.endswith("First release\n\nActor: agent:1\n")
    assert git(path, "rev-parse", "release/1.0^{commit}").strip() == head
    git(path, "fsck", "--strict", "--no-dangling")

    request = pb.CreateTagRequest(
        repository_id=repo, tag="release/1.0", message="again", tagger=TAGGER
    )
    assert rpc_error(lambda: stub.CreateTag(request)).code() == grpc.StatusCode.ALREADY_EXISTS
    for fields, code in [
        ({"tag": "bad tag", "message": "m", "tagger": TAGGER}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"tag": "t", "message": "", "tagger": TAGGER}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"tag": "t", "message": "m"}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {"tag": "t", "message": "m", "tagger": TAGGER, "revision": "nope"},
            grpc.StatusCode.NOT_FOUND,
        ),
    ]:
        req = pb.CreateTagRequest(repository_id=repo, **fields)  # type: ignore[arg-type]
        assert rpc_error(lambda r=req: stub.CreateTag(r)).code() == code, fields

    old = stub.DeleteTag(pb.DeleteTagRequest(repository_id=repo, tag="release/1.0")).old_target
    assert old == created.tag_object_sha
    err = rpc_error(
        lambda: stub.DeleteTag(pb.DeleteTagRequest(repository_id=repo, tag="release/1.0"))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_list_refs(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    assert list(stub.ListRefs(pb.ListRefsRequest(repository_id=repo)).refs) == []
    head = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1")).commit_sha
    stub.CreateBranch(pb.CreateBranchRequest(repository_id=repo, branch="dev"))
    tag = stub.CreateTag(
        pb.CreateTagRequest(repository_id=repo, tag="v1", message="v1", tagger=TAGGER)
    )
    refs = stub.ListRefs(pb.ListRefsRequest(repository_id=repo)).refs
    assert [(r.name, r.target, r.peeled) for r in refs] == [
        ("refs/heads/dev", head, head),
        ("refs/heads/main", head, head),
        ("refs/tags/v1", tag.tag_object_sha, head),
    ]
    tags = stub.ListRefs(pb.ListRefsRequest(repository_id=repo, prefix="refs/tags/")).refs
    assert [r.name for r in tags] == ["refs/tags/v1"]
