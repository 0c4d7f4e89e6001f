"""GetBlobs, ListTree, ResolveRevision, GetChangedPaths, CommitLog through a real server."""

from __future__ import annotations

import grpc
import pygit2
import pytest

from gitstore.config import Settings
from gitstore.domain.events import ZERO_SHA
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.helpers import A, action, commit, git, repo_path, rpc_error


@pytest.fixture
def history(stub: pb_grpc.GitServiceStub, repo: str) -> list[str]:
    """Three commits: c0 adds files, c1 changes one and renames one, c2 touches another."""
    c0 = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "products/shoe.yaml", b"kind: Product\nname: shoe\n" * 20),
        action(A.ACTION_TYPE_CREATE, "products/hat.yaml", b"hat"),
        action(A.ACTION_TYPE_CREATE, "categories/summer/all.yaml", b"all"),
        action(A.ACTION_TYPE_CREATE, "README.md", b"readme"),
        message="c0",
    )
    c1 = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_UPDATE, "products/hat.yaml", b"hat v2"),
        action(A.ACTION_TYPE_MOVE, "products/boot.yaml", previous_path="products/shoe.yaml"),
        message="c1",
    )
    c2 = commit(stub, repo, action(A.ACTION_TYPE_UPDATE, "README.md", b"readme v2"), message="c2")
    return [c0.commit_sha, c1.commit_sha, c2.commit_sha]


def test_get_blobs_by_path_and_id(
    stub: pb_grpc.GitServiceStub, repo: str, history: list[str]
) -> None:
    blobs = list(
        stub.GetBlobs(
            pb.GetBlobsRequest(
                repository_id=repo,
                revision=history[0],
                paths=["products/hat.yaml", "nope.yaml", "README.md"],
            )
        )
    )
    assert [(b.path, b.content, b.missing) for b in blobs] == [
        ("products/hat.yaml", b"hat", False),
        ("nope.yaml", b"", True),
        ("README.md", b"readme", False),
    ]
    assert blobs[0].size == 3
    [head] = list(
        stub.GetBlobs(pb.GetBlobsRequest(repository_id=repo, paths=["products/hat.yaml"]))
    )
    assert head.content == b"hat v2"
    by_id = list(
        stub.GetBlobs(pb.GetBlobsRequest(repository_id=repo, blob_ids=[blobs[0].blob_id, "e" * 40]))
    )
    assert [(b.blob_id, b.content, b.missing) for b in by_id] == [
        (blobs[0].blob_id, b"hat", False),
        ("e" * 40, b"", True),
    ]


@pytest.mark.parametrize(
    ("request_fields", "code", "fragment"),
    [
        ({"paths": ["products"]}, "INVALID_ARGUMENT", "is a tree"),
        ({"paths": ["../x"]}, "INVALID_ARGUMENT", "'..'"),
        ({"paths": ["a/.git"]}, "INVALID_ARGUMENT", ".git"),
        ({"blob_ids": ["abc"]}, "INVALID_ARGUMENT", "40-character"),
        ({"paths": ["README.md"], "revision": "nope"}, "NOT_FOUND", "nope"),
        ({"paths": ["README.md"], "revision": "a..b"}, "INVALID_ARGUMENT", "not a valid revision"),
    ],
)
def test_get_blobs_errors(
    stub: pb_grpc.GitServiceStub,
    repo: str,
    history: list[str],
    request_fields: dict[str, object],
    code: str,
    fragment: str,
) -> None:
    request = pb.GetBlobsRequest(repository_id=repo, **request_fields)  # type: ignore[arg-type]
    err = rpc_error(lambda: stub.GetBlobs(request))
    assert err.code().name == code
    assert fragment in (err.details() or "")


def test_get_blob_by_id_of_a_tree(
    stub: pb_grpc.GitServiceStub, repo: str, history: list[str], settings: Settings
) -> None:
    tree = git(repo_path(settings, repo), "rev-parse", "main^{tree}").strip()
    err = rpc_error(lambda: stub.GetBlobs(pb.GetBlobsRequest(repository_id=repo, blob_ids=[tree])))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_tree(
    stub: pb_grpc.GitServiceStub, repo: str, history: list[str], settings: Settings
) -> None:
    def listing(**fields: object) -> list[tuple[str, int]]:
        request = pb.ListTreeRequest(repository_id=repo, **fields)  # type: ignore[arg-type]
        return [(e.path, e.type) for e in stub.ListTree(request)]

    assert listing() == [
        ("README.md", pb.ENTRY_TYPE_BLOB),
        ("categories", pb.ENTRY_TYPE_TREE),
        ("products", pb.ENTRY_TYPE_TREE),
    ]
    assert listing(recursive=True) == [
        ("README.md", pb.ENTRY_TYPE_BLOB),
        ("categories", pb.ENTRY_TYPE_TREE),
        ("categories/summer", pb.ENTRY_TYPE_TREE),
        ("categories/summer/all.yaml", pb.ENTRY_TYPE_BLOB),
        ("products", pb.ENTRY_TYPE_TREE),
        ("products/boot.yaml", pb.ENTRY_TYPE_BLOB),
        ("products/hat.yaml", pb.ENTRY_TYPE_BLOB),
    ]
    assert listing(path_prefix="products/") == [
        ("products/boot.yaml", pb.ENTRY_TYPE_BLOB),
        ("products/hat.yaml", pb.ENTRY_TYPE_BLOB),
    ]
    assert listing(path_prefix="categories", recursive=True) == [
        ("categories/summer", pb.ENTRY_TYPE_TREE),
        ("categories/summer/all.yaml", pb.ENTRY_TYPE_BLOB),
    ]
    assert [p for p, _ in listing(revision=history[0], path_prefix="products")] == [
        "products/hat.yaml",
        "products/shoe.yaml",
    ]
    entries = list(stub.ListTree(pb.ListTreeRequest(repository_id=repo, recursive=True)))
    git_listing = git(repo_path(settings, repo), "ls-tree", "-r", "-t", "main").splitlines()
    assert [
        f"{e.mode:06o} {pb.EntryType.Name(e.type)[11:].lower()} {e.oid}\t{e.path}" for e in entries
    ] == git_listing
    for fields, code in [
        ({"path_prefix": "nope"}, grpc.StatusCode.NOT_FOUND),
        ({"path_prefix": "README.md"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"path_prefix": "../etc"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"revision": "missing"}, grpc.StatusCode.NOT_FOUND),
    ]:
        assert rpc_error(lambda f=fields: listing(**f)).code() == code


def test_resolve_revision(stub: pb_grpc.GitServiceStub, repo: str, history: list[str]) -> None:
    def resolve(revision: str) -> tuple[str, str]:
        got = stub.ResolveRevision(pb.ResolveRevisionRequest(repository_id=repo, revision=revision))
        return got.commit_sha, got.ref_name

    assert resolve("") == (history[2], "refs/heads/main")
    assert resolve("HEAD") == (history[2], "refs/heads/main")
    assert resolve("main") == (history[2], "refs/heads/main")
    assert resolve("main~2") == (history[0], "")
    assert resolve(history[1]) == (history[1], "")
    assert resolve(history[1][:10]) == (history[1], "")
    for revision, code in [
        ("nope", grpc.StatusCode.NOT_FOUND),
        ("main~10", grpc.StatusCode.NOT_FOUND),
        ("0" * 40, grpc.StatusCode.NOT_FOUND),
        ("a..b", grpc.StatusCode.INVALID_ARGUMENT),
        ("main^{tree}", grpc.StatusCode.INVALID_ARGUMENT),
        ("--all", grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        assert rpc_error(lambda r=revision: resolve(r)).code() == code, revision


def test_resolve_in_an_empty_repository(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    err = rpc_error(lambda: stub.ResolveRevision(pb.ResolveRevisionRequest(repository_id=repo)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "no commits" in (err.details() or "")


def test_changed_paths(stub: pb_grpc.GitServiceStub, repo: str, history: list[str]) -> None:
    def changes(frm: str, to: str, renames: bool = False) -> list[tuple[str, int, str]]:
        request = pb.GetChangedPathsRequest(
            repository_id=repo, from_revision=frm, to_revision=to, detect_renames=renames
        )
        got = stub.GetChangedPaths(request).changed_paths
        return sorted((c.path, c.change_type, c.old_path) for c in got)

    everything = changes("", history[0])
    assert everything == changes(ZERO_SHA, history[0])
    assert [(p, t) for p, t, _ in everything] == [
        ("README.md", pb.CHANGE_TYPE_ADDED),
        ("categories/summer/all.yaml", pb.CHANGE_TYPE_ADDED),
        ("products/hat.yaml", pb.CHANGE_TYPE_ADDED),
        ("products/shoe.yaml", pb.CHANGE_TYPE_ADDED),
    ]
    assert changes(history[0], history[1]) == [
        ("products/boot.yaml", pb.CHANGE_TYPE_ADDED, ""),
        ("products/hat.yaml", pb.CHANGE_TYPE_MODIFIED, ""),
        ("products/shoe.yaml", pb.CHANGE_TYPE_DELETED, ""),
    ]
    assert changes(history[0], history[1], renames=True) == [
        ("products/boot.yaml", pb.CHANGE_TYPE_RENAMED, "products/shoe.yaml"),
        ("products/hat.yaml", pb.CHANGE_TYPE_MODIFIED, ""),
    ]
    [modified] = stub.GetChangedPaths(
        pb.GetChangedPathsRequest(repository_id=repo, from_revision="main~1", to_revision="main")
    ).changed_paths
    assert (
        modified.old_blob_id
        and modified.new_blob_id
        and modified.old_blob_id != modified.new_blob_id
    )
    assert changes("main", "main") == []
    err = rpc_error(lambda: changes("nope", "main"))
    assert err.code() == grpc.StatusCode.NOT_FOUND and "from_revision" in (err.details() or "")


def test_commit_log(stub: pb_grpc.GitServiceStub, repo: str, history: list[str]) -> None:
    def log(**fields: object) -> list[str]:
        request = pb.CommitLogRequest(repository_id=repo, **fields)  # type: ignore[arg-type]
        return [c.subject for c in stub.CommitLog(request)]

    assert log() == ["c2", "c1", "c0"]
    assert log(limit=2) == ["c2", "c1"]
    assert log(offset=1) == ["c1", "c0"]
    assert log(offset=1, limit=1) == ["c1"]
    assert log(revision=history[1]) == ["c1", "c0"]
    assert log(path="products/hat.yaml") == ["c1", "c0"]
    assert log(path="products") == ["c1", "c0"]
    assert log(path="README.md", offset=1) == ["c0"]
    assert log(path="products/boot.yaml") == ["c1"]
    assert log(path="nope") == []
    [first] = list(stub.CommitLog(pb.CommitLogRequest(repository_id=repo, revision=history[0])))
    assert first.sha == history[0] and list(first.parent_shas) == []
    assert first.author.name == "Ada Lovelace" and first.tree_sha
    assert rpc_error(lambda: log(path="/abs")).code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(lambda: log(revision="nope")).code() == grpc.StatusCode.NOT_FOUND
    # what a ref update from c0 to c2 brought: `git log c2 ^c0`
    assert log(hide_revisions=[history[0]]) == ["c2", "c1"]
    assert log(hide_revisions=[history[0]], limit=1) == ["c2"]
    assert log(hide_revisions=[history[1], history[0]]) == ["c2"]
    assert log(revision=history[1], hide_revisions=[history[1]]) == []
    assert log(revision=history[0], hide_revisions=[history[2]]) == []
    assert rpc_error(lambda: log(hide_revisions=["nope"])).code() == grpc.StatusCode.NOT_FOUND


def test_names_that_are_not_utf8_are_read_escaped(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    """A repository that holds a non-UTF-8 file name (from before pushes were checked) is
    still readable: names come back with ``\\xNN`` escapes instead of an INTERNAL error."""
    handle = pygit2.Repository(str(repo_path(settings, repo)))
    blob = handle.create_blob(b"x")
    inner = handle.write(pygit2.GIT_OBJECT_TREE, b"100644 caf\xe9.md\0" + blob.raw)
    root = handle.write(pygit2.GIT_OBJECT_TREE, b"40000 docs\0" + inner.raw)
    who = pygit2.Signature("T", "t@example.com")
    sha = str(handle.create_commit("refs/heads/main", who, who, "legacy", root, []))
    changed = stub.GetChangedPaths(pb.GetChangedPathsRequest(repository_id=repo, to_revision=sha))
    assert [c.path for c in changed.changed_paths] == ["docs/caf\\xe9.md"]
    listing = stub.ListTree(pb.ListTreeRequest(repository_id=repo, revision=sha, recursive=True))
    assert [e.path for e in listing] == ["docs", "docs/caf\\xe9.md"]
    log = list(stub.CommitLog(pb.CommitLogRequest(repository_id=repo, revision=sha)))
    assert [c.subject for c in log] == ["legacy"]
