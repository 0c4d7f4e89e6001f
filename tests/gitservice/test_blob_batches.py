"""GetBlobBatches: GetBlobs' answers packed many per message, through a real server."""

from __future__ import annotations

import itertools
import subprocess

import pytest

from gitstore.config import Settings
from gitstore.domain.errors import NotFound
from gitstore.domain.identity import RepositoryId
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice import reads
from gitstore.gitservice.server import GitServiceHandle
from tests.gitservice.helpers import A, action, commit, git, repo_path, rpc_error

KIB = 1024


def answers(blobs: list[pb.Blob]) -> list[tuple[str, str, bytes, int, bool]]:
    return [(b.path, b.blob_id, b.content, b.size, b.missing) for b in blobs]


def flat(batches: list[pb.BlobBatch]) -> list[pb.Blob]:
    return [blob for batch in batches for blob in batch.blobs]


def content_bytes(batch: pb.BlobBatch) -> int:
    return sum(len(b.content) for b in batch.blobs)


def write_blob(settings: Settings, repo: str, content: bytes) -> str:
    """A blob object in the repository (no commit needed to read it by id)."""
    done = subprocess.run(
        ["git", "--git-dir", str(repo_path(settings, repo)), "hash-object", "-w", "--stdin"],
        input=content,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def test_same_answers_as_get_blobs_by_path_and_by_id(
    stub: pb_grpc.GitServiceStub, repo: str
) -> None:
    first = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "products/hat.yaml", b"hat"),
        action(A.ACTION_TYPE_CREATE, "products/empty.yaml", b""),
        action(A.ACTION_TYPE_CREATE, "README.md", b"readme"),
    )
    commit(stub, repo, action(A.ACTION_TYPE_UPDATE, "products/hat.yaml", b"hat v2"))
    by_path = pb.GetBlobsRequest(
        repository_id=repo,
        revision=first.commit_sha,
        paths=["products/hat.yaml", "nope.yaml", "products/empty.yaml", "README.md"],
    )
    batches = list(stub.GetBlobBatches(by_path))
    assert len(batches) == 1
    assert answers(flat(batches)) == answers(list(stub.GetBlobs(by_path)))
    assert [(b.path, b.content, b.missing) for b in flat(batches)] == [
        ("products/hat.yaml", b"hat", False),
        ("nope.yaml", b"", True),
        ("products/empty.yaml", b"", False),
        ("README.md", b"readme", False),
    ]
    hat_v1 = flat(batches)[0].blob_id
    # Paths and ids in one request: paths first, then ids, each in request order.
    mixed = pb.GetBlobsRequest(
        repository_id=repo, paths=["products/hat.yaml"], blob_ids=["e" * 40, hat_v1]
    )
    got = flat(list(stub.GetBlobBatches(mixed)))
    assert answers(got) == answers(list(stub.GetBlobs(mixed)))
    assert [(b.path, b.blob_id, b.content, b.missing) for b in got] == [
        ("products/hat.yaml", got[0].blob_id, b"hat v2", False),
        ("", "e" * 40, b"", True),
        ("", hat_v1, b"hat", False),
    ]


def test_many_small_blobs_come_in_one_message(stub: pb_grpc.GitServiceStub, repo: str) -> None:
    files = {f"products/p{i:03d}.yaml": f"name: p{i}\n".encode() for i in range(300)}
    commit(stub, repo, *(action(A.ACTION_TYPE_CREATE, p, c) for p, c in files.items()))
    batches = list(stub.GetBlobBatches(pb.GetBlobsRequest(repository_id=repo, paths=list(files))))
    assert len(batches) == 1
    assert {b.path: b.content for b in batches[0].blobs} == files


def test_messages_split_at_the_size_limit_in_request_order(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    contents = [bytes([65 + i % 26]) * (100 * KIB + i) for i in range(30)]  # ~3 MiB
    ids = [write_blob(settings, repo, c) for c in contents]
    batches = list(stub.GetBlobBatches(pb.GetBlobsRequest(repository_id=repo, blob_ids=ids)))
    assert len(batches) >= 3
    assert all(batch.blobs for batch in batches)
    assert all(content_bytes(batch) <= reads.BATCH_BYTES for batch in batches)
    # Packed as full as the limit allows: no two neighbours would have fitted in one.
    for a, b in itertools.pairwise(batches):
        assert content_bytes(a) + len(b.blobs[0].content) > reads.BATCH_BYTES - 64 * (
            len(a.blobs) + 1
        )
    got = flat(batches)
    assert [b.blob_id for b in got] == ids
    assert [b.content for b in got] == contents
    assert all(b.size == len(b.content) for b in got)


def test_a_blob_over_the_limit_comes_alone(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    big = b"x" * (reads.BATCH_BYTES + 300 * KIB)
    ids = [write_blob(settings, repo, c) for c in (b"a", b"b", big, b"c", b"d")]
    batches = list(stub.GetBlobBatches(pb.GetBlobsRequest(repository_id=repo, blob_ids=ids)))
    assert [[b.content[:1] for b in batch.blobs] for batch in batches] == [
        [b"a", b"b"],
        [b"x"],
        [b"c", b"d"],
    ]
    assert batches[1].blobs[0].content == big


def test_packing_with_a_small_limit(
    settings: Settings, service: GitServiceHandle, repo: str
) -> None:
    """The packing rule itself, on the reads function with a limit of a few blobs."""
    ids = [write_blob(settings, repo, bytes([97 + i]) * 100) for i in range(7)]
    limit = 3 * (100 + 64)  # three blobs' estimated weight
    request = pb.GetBlobsRequest(repository_id=repo, blob_ids=[*ids, "f" * 40])
    store, repo_id = service.store, RepositoryId.parse(repo)
    batches = list(reads.get_blob_batches(store, repo_id, request, limit=limit))
    assert [len(b.blobs) for b in batches] == [3, 3, 2]
    assert batches[-1].blobs[-1].missing
    assert [b.blob_id for b in flat(batches)] == [*ids, "f" * 40]
    one = list(reads.get_blob_batches(store, repo_id, request, limit=1))
    assert [len(b.blobs) for b in one] == [1] * 8


@pytest.mark.parametrize(
    ("request_fields", "code", "fragment"),
    [
        ({"paths": ["products"]}, "INVALID_ARGUMENT", "is a tree"),
        ({"paths": ["../x"]}, "INVALID_ARGUMENT", "'..'"),
        ({"blob_ids": ["abc"]}, "INVALID_ARGUMENT", "40-character"),
        ({"paths": ["README.md"], "revision": "nope"}, "NOT_FOUND", "nope"),
        ({"blob_ids": ["e" * 40] * 10_001}, "INVALID_ARGUMENT", "at most 10000"),
    ],
)
def test_errors(
    stub: pb_grpc.GitServiceStub,
    repo: str,
    request_fields: dict[str, object],
    code: str,
    fragment: str,
) -> None:
    commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "products/hat.yaml", b"hat"),
        action(A.ACTION_TYPE_CREATE, "README.md", b"readme"),
    )
    request = pb.GetBlobsRequest(repository_id=repo, **request_fields)  # type: ignore[arg-type]
    err = rpc_error(lambda: stub.GetBlobBatches(request))
    assert err.code().name == code
    assert fragment in (err.details() or "")


def test_id_of_a_tree_and_unknown_repository(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    commit(stub, repo, action(A.ACTION_TYPE_CREATE, "README.md", b"readme"))
    tree = git(repo_path(settings, repo), "rev-parse", "main^{tree}").strip()
    err = rpc_error(
        lambda: stub.GetBlobBatches(pb.GetBlobsRequest(repository_id=repo, blob_ids=[tree]))
    )
    assert err.code().name == "INVALID_ARGUMENT"
    err = rpc_error(
        lambda: stub.GetBlobBatches(pb.GetBlobsRequest(repository_id="acme/none", paths=["a"]))
    )
    assert err.code().name == "NOT_FOUND"


async def test_async_client(
    stub: pb_grpc.GitServiceStub, repo: str, service: GitServiceHandle
) -> None:
    commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a/b.yaml", b"b"))
    async with GitClient(f"127.0.0.1:{service.port}") as client:
        request = pb.GetBlobsRequest(repository_id=repo, paths=["a/b.yaml", "a/c.yaml"])
        got = [blob async for batch in client.get_blob_batches(request) for blob in batch.blobs]
        assert [(b.path, b.content, b.missing) for b in got] == [
            ("a/b.yaml", b"b", False),
            ("a/c.yaml", b"", True),
        ]
        with pytest.raises(NotFound):
            missing = pb.GetBlobsRequest(repository_id="acme/none", paths=["a"])
            [b async for b in client.get_blob_batches(missing)]
