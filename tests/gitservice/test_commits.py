"""CommitFiles through a real server: actions, metadata, preconditions, bad input."""

from __future__ import annotations

import grpc
import pytest

from gitstore.config import Settings
from gitstore.domain.events import ZERO_SHA
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.helpers import (
    AUTHOR,
    MAX_COMMIT,
    MAX_FILE,
    A,
    action,
    commit,
    git,
    repo_path,
    rpc_error,
)


def blob_text(
    stub: pb_grpc.GitServiceStub, repo: str, path: str, revision: str = ""
) -> bytes | None:
    [blob] = list(
        stub.GetBlobs(pb.GetBlobsRequest(repository_id=repo, revision=revision, paths=[path]))
    )
    return None if blob.missing else blob.content


def test_every_action_kind(stub: pb_grpc.GitServiceStub, repo: str, settings: Settings) -> None:
    first = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "products/shoe.yaml", b"shoe"),
        action(A.ACTION_TYPE_CREATE, "products/hat.yaml", b"hat"),
        action(A.ACTION_TYPE_UPSERT, "categories/all.yaml", b"all"),
        action(A.ACTION_TYPE_CREATE, "bin/tool", b"#!/bin/sh\n", mode=0o100755),
    )
    assert first.old_head == ZERO_SHA and first.branch == "main" and first.retries == 0
    assert [(c.path, c.change_type) for c in first.changed_paths] == [
        ("bin/tool", pb.CHANGE_TYPE_ADDED),
        ("categories/all.yaml", pb.CHANGE_TYPE_ADDED),
        ("products/hat.yaml", pb.CHANGE_TYPE_ADDED),
        ("products/shoe.yaml", pb.CHANGE_TYPE_ADDED),
    ]
    second = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_UPDATE, "products/shoe.yaml", b"shoe v2"),
        action(A.ACTION_TYPE_DELETE, "products/hat.yaml"),
        action(A.ACTION_TYPE_MOVE, "catalog/all.yaml", previous_path="categories/all.yaml"),
        action(A.ACTION_TYPE_UPSERT, "bin/tool", b"#!/bin/sh\necho\n"),
        action(A.ACTION_TYPE_UPSERT, "new.yaml", b"n"),
    )
    assert second.old_head == first.commit_sha
    changes = {c.path: c for c in second.changed_paths}
    assert changes["products/shoe.yaml"].change_type == pb.CHANGE_TYPE_MODIFIED
    assert changes["products/hat.yaml"].change_type == pb.CHANGE_TYPE_DELETED
    assert changes["products/hat.yaml"].new_blob_id == ""
    moved = changes["catalog/all.yaml"]
    assert (moved.change_type, moved.old_path) == (pb.CHANGE_TYPE_RENAMED, "categories/all.yaml")
    assert moved.old_blob_id == moved.new_blob_id
    assert changes["new.yaml"].change_type == pb.CHANGE_TYPE_ADDED

    path = repo_path(settings, repo)
    listing = git(path, "ls-tree", "-r", "main")
    assert "100755 blob" in next(line for line in listing.splitlines() if line.endswith("bin/tool"))
    assert "categories" not in listing  # its last file moved away
    assert git(path, "rev-parse", "main").strip() == second.commit_sha
    assert git(path, "rev-parse", "main^").strip() == first.commit_sha
    for blob_change in second.changed_paths:
        if blob_change.new_blob_id:
            assert git(path, "cat-file", "-t", blob_change.new_blob_id).strip() == "blob"
    assert blob_text(stub, repo, "products/shoe.yaml") == b"shoe v2"
    assert blob_text(stub, repo, "products/hat.yaml") is None
    # the changed paths from the edit agree with git's own diff
    diff = git(path, "diff", "--name-status", "-M", first.commit_sha, second.commit_sha)
    assert sorted(diff.splitlines()) == [
        "A\tnew.yaml",
        "D\tproducts/hat.yaml",
        "M\tbin/tool",
        "M\tproducts/shoe.yaml",
        "R100\tcategories/all.yaml\tcatalog/all.yaml",
    ]


def test_move_with_new_content(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a.yaml", b"old"))
    done = commit(
        stub, repo, action(A.ACTION_TYPE_MOVE, "b/a.yaml", b"new", previous_path="a.yaml")
    )
    [change] = done.changed_paths
    assert change.change_type == pb.CHANGE_TYPE_RENAMED and change.old_blob_id != change.new_blob_id
    assert blob_text(stub, repo, "b/a.yaml") == b"new"


def test_metadata_author_committer_and_trailers(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    done = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "a", b"1"),
        message="Set prices",
        committer=pb.Signature(
            name="Bot", email="bot@example.com", time=1700000000, offset_minutes=60
        ),
        trailers=pb.Trailers(
            actor="agent:42",
            request_id="req-7",
            idempotency_key="idem-9",
            schema_version="catalog/v1",
            extra={"Reviewed-By": "carol"},
        ),
    )
    path = repo_path(settings, repo)
    raw = git(path, "cat-file", "commit", done.commit_sha)
    assert "author Ada Lovelace <ada@example.com>" in raw
    assert "committer Bot <bot@example.com> 1700000000 +0100" in raw
    assert raw.endswith(
        "Set prices\n\nActor: agent:42\nRequest-Id: req-7\nIdempotency-Key: idem-9\n"
        "Schema-Version: catalog/v1\nReviewed-By: carol\n"
    )
    parsed = git(path, "log", "-1", "--format=%(trailers:key=Request-Id,valueonly)", "main")
    assert parsed.strip() == "req-7"  # git itself reads our trailer block
    [info] = list(stub.CommitLog(pb.CommitLogRequest(repository_id=repo, limit=1)))
    assert info.subject == "Set prices"
    assert dict(info.trailers) == {
        "Actor": "agent:42",
        "Request-Id": "req-7",
        "Idempotency-Key": "idem-9",
        "Schema-Version": "catalog/v1",
        "Reviewed-By": "carol",
    }


def test_expected_head(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    create = action(A.ACTION_TYPE_UPSERT, "a", b"1")
    first = commit(stub, repo, create, expected_head=ZERO_SHA)
    err = rpc_error(lambda: commit(stub, repo, create, expected_head=ZERO_SHA))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expected_head" in (err.details() or "")
    second = commit(
        stub, repo, action(A.ACTION_TYPE_UPSERT, "a", b"2"), expected_head=first.commit_sha
    )
    err = rpc_error(
        lambda: commit(
            stub, repo, action(A.ACTION_TYPE_UPSERT, "a", b"3"), expected_head=first.commit_sha
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert second.commit_sha in (err.details() or "")
    err = rpc_error(
        lambda: commit(stub, repo, create, branch="nope", expected_head=first.commit_sha)
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = rpc_error(lambda: commit(stub, repo, create, expected_head="xyz"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_new_branches(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    root = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1"), branch="first")
    assert root.old_head == ZERO_SHA  # an empty repository takes a root commit on any branch
    commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1"))
    err = rpc_error(
        lambda: commit(stub, repo, action(A.ACTION_TYPE_CREATE, "b", b"2"), branch="feature")
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "start_revision" in (err.details() or "")
    done = commit(
        stub, repo, action(A.ACTION_TYPE_CREATE, "b", b"2"), branch="feature", start_revision="main"
    )
    [parent] = list(stub.CommitLog(pb.CommitLogRequest(repository_id=repo, revision="feature")))[1:]
    assert (
        parent.sha == stub.ResolveRevision(pb.ResolveRevisionRequest(repository_id=repo)).commit_sha
    )
    assert done.branch == "feature"
    err = rpc_error(
        lambda: commit(
            stub, repo, action(A.ACTION_TYPE_CREATE, "c", b"3"), branch="x", start_revision="nope"
        )
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_default_branch_when_branch_is_empty(stub: pb_grpc.GitServiceStub) -> None:
    stub.CreateRepository(
        pb.CreateRepositoryRequest(repository_id="acme/t", default_branch="trunk")
    )
    done = commit(stub, "acme/t", action(A.ACTION_TYPE_CREATE, "a", b"1"), branch="")
    assert done.branch == "trunk"


@pytest.mark.parametrize(
    ("actions", "code", "fragment"),
    [
        ([action(A.ACTION_TYPE_CREATE, "exists.yaml", b"x")], "ALREADY_EXISTS", "exists.yaml"),
        ([action(A.ACTION_TYPE_CREATE, "dir", b"x")], "ALREADY_EXISTS", "directory exists"),
        (
            [action(A.ACTION_TYPE_UPDATE, "missing.yaml", b"x")],
            "FAILED_PRECONDITION",
            "missing.yaml",
        ),
        ([action(A.ACTION_TYPE_DELETE, "missing.yaml")], "FAILED_PRECONDITION", "missing.yaml"),
        ([action(A.ACTION_TYPE_DELETE, "dir")], "FAILED_PRECONDITION", "is a directory"),
        (
            [action(A.ACTION_TYPE_MOVE, "b", previous_path="missing")],
            "FAILED_PRECONDITION",
            "missing",
        ),
        (
            [action(A.ACTION_TYPE_MOVE, "exists.yaml", previous_path="dir/f")],
            "ALREADY_EXISTS",
            "exists.yaml",
        ),
        ([action(A.ACTION_TYPE_CREATE, "exists.yaml/x", b"x")], "FAILED_PRECONDITION", "is a file"),
        ([action(A.ACTION_TYPE_UNSPECIFIED, "a", b"x")], "INVALID_ARGUMENT", "actions[0].action"),
        ([], "INVALID_ARGUMENT", "actions must not be empty"),
        ([action(A.ACTION_TYPE_CREATE, "../x", b"x")], "INVALID_ARGUMENT", "'..'"),
        ([action(A.ACTION_TYPE_CREATE, "/abs", b"x")], "INVALID_ARGUMENT", "relative"),
        ([action(A.ACTION_TYPE_CREATE, "a/.git/b", b"x")], "INVALID_ARGUMENT", ".git"),
        ([action(A.ACTION_TYPE_CREATE, ".GIT", b"x")], "INVALID_ARGUMENT", ".git"),
        ([action(A.ACTION_TYPE_CREATE, "a\x00b", b"x")], "INVALID_ARGUMENT", "NUL"),
        ([action(A.ACTION_TYPE_CREATE, "", b"x")], "INVALID_ARGUMENT", "empty"),
        (
            [action(A.ACTION_TYPE_MOVE, "a", previous_path="../b")],
            "INVALID_ARGUMENT",
            "previous_path",
        ),
        ([action(A.ACTION_TYPE_CREATE, "a", b"x", mode=0o120000)], "INVALID_ARGUMENT", "mode"),
        ([action(A.ACTION_TYPE_DELETE, "exists.yaml", b"x")], "INVALID_ARGUMENT", "no content"),
        (
            [action(A.ACTION_TYPE_CREATE, "a", b"x"), action(A.ACTION_TYPE_CREATE, "a", b"y")],
            "INVALID_ARGUMENT",
            "conflicting",
        ),
        ([action(A.ACTION_TYPE_CREATE, "big", b"x" * (MAX_FILE + 1))], "INVALID_ARGUMENT", "limit"),
        (
            [
                action(A.ACTION_TYPE_CREATE, f"f{i}", b"x" * MAX_FILE)
                for i in range(MAX_COMMIT // MAX_FILE + 1)
            ],
            "INVALID_ARGUMENT",
            "limit",
        ),
    ],
)
def test_refused_actions_change_nothing(
    stub: pb_grpc.GitServiceStub,
    repo: str,
    settings: Settings,
    actions: list[pb.CommitAction],
    code: str,
    fragment: str,
) -> None:
    base = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "exists.yaml", b"e"),
        action(A.ACTION_TYPE_CREATE, "dir/f", b"f"),
    )
    path = repo_path(settings, repo)
    objects_before = git(path, "count-objects", "-v")
    err = rpc_error(lambda: commit(stub, repo, *actions))
    assert err.code().name == code, err.details()
    assert fragment in (err.details() or "")
    assert git(path, "rev-parse", "main").strip() == base.commit_sha
    if code == "INVALID_ARGUMENT":  # refused before anything was written
        assert git(path, "count-objects", "-v") == objects_before


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"author": pb.Signature()}, "author.name is required"),
        ({"author": pb.Signature(name="A")}, "author.email is required"),
        ({"committer": pb.Signature(name="B <b>", email="b@b")}, "committer.name"),
        ({"message": ""}, "message must not be empty"),
        ({"trailers": pb.Trailers(actor="x\ny")}, "single line"),
        ({"branch": "bad..branch"}, "bad..branch"),
        ({"start_revision": "-x", "branch": "new"}, "start_revision"),
    ],
)
def test_bad_request_fields(
    stub: pb_grpc.GitServiceStub, repo: str, fields: dict[str, object], fragment: str
) -> None:
    request = pb.CommitFilesRequest(
        repository_id=repo,
        branch="main",
        author=AUTHOR,
        message="m",
        actions=[action(A.ACTION_TYPE_CREATE, "a", b"1")],
    )
    for name, value in fields.items():
        if isinstance(value, pb.Signature | pb.Trailers):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    err = rpc_error(lambda: stub.CommitFiles(request))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (err.details() or "")


def test_content_at_the_limit_is_accepted(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    done = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "big", b"x" * MAX_FILE))
    assert done.changed_paths[0].path == "big"
    assert blob_text(stub, repo, "big") == b"x" * MAX_FILE
