"""The pre-receive view of a push: quarantine reads, and signature status.

While the test HookService decides, it reads the pushed objects through the git service's
read RPCs with the request's ``quarantine_id`` (as the API's content check does); the same
id is ``NOT_FOUND`` once the hook has answered, and the objects are invisible without it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import grpc

from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.hook.v1 import hook_service_pb2 as hook_pb
from tests.gitservice.helpers import rpc_error
from tests.gitservice.transport_util import commit_file, make_ssh_key, run_git
from tests.support.fake_hooks import FakeHooks


def _reads(
    stub: pb_grpc.GitServiceStub, repo: str, quarantine_id: str, new: str
) -> dict[str, object]:
    """Every quarantine-aware read RPC, at the pushed commit."""
    batches = stub.GetBlobBatches(
        pb.GetBlobsRequest(
            repository_id=repo, revision=new, paths=["products/b.yaml"], quarantine_id=quarantine_id
        )
    )
    blobs = [(b.path, b.content) for batch in batches for b in batch.blobs]
    single = [
        b.content
        for b in stub.GetBlobs(
            pb.GetBlobsRequest(
                repository_id=repo,
                revision=new,
                paths=["products/b.yaml"],
                quarantine_id=quarantine_id,
            )
        )
    ]
    tree = [
        e.path
        for e in stub.ListTree(
            pb.ListTreeRequest(
                repository_id=repo, revision=new, recursive=True, quarantine_id=quarantine_id
            )
        )
    ]
    resolved = stub.ResolveRevision(
        pb.ResolveRevisionRequest(repository_id=repo, revision=new, quarantine_id=quarantine_id)
    ).commit_sha
    changed = stub.GetChangedPaths(
        pb.GetChangedPathsRequest(
            repository_id=repo,
            from_revision=f"{new}~1",
            to_revision=new,
            quarantine_id=quarantine_id,
        )
    ).changed_paths
    log = [
        c.sha
        for c in stub.CommitLog(
            pb.CommitLogRequest(
                repository_id=repo, revision=new, limit=1, quarantine_id=quarantine_id
            )
        )
    ]
    return {
        "blobs": blobs,
        "single": single,
        "tree": tree,
        "resolved": resolved,
        "changed": [c.path for c in changed],
        "log": log,
    }


def test_quarantine_is_readable_only_while_the_hook_runs(
    tmp_path: Path,
    stub: pb_grpc.GitServiceStub,
    repo: str,
    work: Path,
    hooks: FakeHooks,
) -> None:
    def during(request: hook_pb.PreReceiveRequest) -> object:
        new = request.refs[0].update.new
        plain = rpc_error(
            lambda: stub.ResolveRevision(
                pb.ResolveRevisionRequest(repository_id=repo, revision=new)
            )
        )
        other = rpc_error(
            lambda: stub.ResolveRevision(
                pb.ResolveRevisionRequest(
                    repository_id="acme/other", revision=new, quarantine_id=request.quarantine_id
                )
            )
        )
        return plain.code(), other.code(), _reads(stub, repo, request.quarantine_id, new)

    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/other"))
    hooks.during = during
    hooks.decide = lambda _r: (False, ["no thanks"])
    new = commit_file(tmp_path, work, "products/b.yaml", "name: b\n", "add b")
    done = run_git(tmp_path, "push", "origin", "main", cwd=work, check=False)
    assert done.returncode != 0
    (seen,) = hooks.seen
    plain_code, other_code, reads = seen
    assert plain_code == grpc.StatusCode.NOT_FOUND  # invisible without the id
    assert other_code == grpc.StatusCode.NOT_FOUND  # the id belongs to acme/catalog only
    assert reads == {
        "blobs": [("products/b.yaml", b"name: b\n")],
        "single": [b"name: b\n"],
        "tree": ["products", "products/a.yaml", "products/b.yaml"],
        "resolved": new,
        "changed": ["products/b.yaml"],
        "log": [new],
    }
    quarantine_id = hooks.pre[0].quarantine_id
    assert re.fullmatch(r"[0-9a-f]{32}", quarantine_id)
    after = rpc_error(
        lambda: stub.ListTree(
            pb.ListTreeRequest(repository_id=repo, revision=new, quarantine_id=quarantine_id)
        )
    )
    assert after.code() == grpc.StatusCode.NOT_FOUND
    assert "quarantine" in (after.details() or "")


def _signed_commit(tmp_path: Path, work: Path, key: Path) -> str:
    (work / "products/s.yaml").write_text("name: s\n")
    run_git(tmp_path, "add", "products/s.yaml", cwd=work)
    run_git(
        tmp_path,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}",
        "commit",
        "-q",
        "-S",
        "-m",
        "signed",
        cwd=work,
    )
    return run_git(tmp_path, "rev-parse", "HEAD", cwd=work).stdout.strip()


def _write_object(tmp_path: Path, work: Path, kind: str, raw: bytes) -> str:
    done = subprocess.run(
        ["git", "hash-object", "-t", kind, "-w", "--stdin", "--literally"],
        cwd=work,
        input=raw,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def test_ssh_signatures_are_checked(
    tmp_path: Path, repo: str, work: Path, hooks: FakeHooks
) -> None:
    key, fingerprint = make_ssh_key(tmp_path)
    good = _signed_commit(tmp_path, work, key)
    raw = subprocess.run(
        ["git", "cat-file", "commit", good], cwd=work, capture_output=True, check=True
    ).stdout
    tampered = _write_object(tmp_path, work, "commit", raw.replace(b"signed", b"forged"))
    gpg = _write_object(
        tmp_path,
        work,
        "commit",
        raw.split(b"gpgsig ")[0]
        + b"gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n"
        + b" -----END PGP SIGNATURE-----\n"
        + b"\nunsupported\n",
    )
    run_git(tmp_path, "update-ref", "refs/heads/tampered", tampered, cwd=work)
    run_git(tmp_path, "update-ref", "refs/heads/gpg", gpg, cwd=work)
    run_git(
        tmp_path,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}",
        "tag",
        "-s",
        "v1",
        "-m",
        "signed tag",
        good,
        cwd=work,
    )
    run_git(tmp_path, "push", "-q", "origin", "main", "tampered", "gpg", "v1", cwd=work)
    refs = {r.update.ref: r for r in hooks.pre[0].refs}
    main = refs["refs/heads/main"].commits
    assert [(c.sha, c.signature, c.signer_fingerprint) for c in main] == [
        (good, "good", fingerprint)
    ]
    forged = refs["refs/heads/tampered"].commits
    assert [(c.sha, c.signature, c.signer_fingerprint) for c in forged] == [(tampered, "bad", "")]
    assert [c.signature for c in refs["refs/heads/gpg"].commits] == ["bad"]
    tag = refs["refs/tags/v1"]
    assert (tag.tag_signature, tag.tag_signer_fingerprint) == ("good", fingerprint)
