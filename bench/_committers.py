"""The three ways the commit benchmark writes a one-file commit to a bare repository.

Each committer exposes ``commit(path, content)``: replace one existing file of
``refs/heads/main`` with new content in a new commit, and return once the commit and the
ref are durable. All three sync objects and refs to disk:

- :class:`GrpcCommitter` -- ``CommitFiles`` (one UPSERT action) on a running
  ``gitstore git-service`` through the generated sync stub. The service's own fsync setting
  (``GITSTORE_GIT__FSYNC``, on by default) applies.
- :class:`Pygit2Committer` -- the floor: the same tree edit in-process with pygit2 and
  ``ENABLE_FSYNC_GITDIR``: read the head, write the blob, rebuild the trees along the path
  with TreeBuilder, write the commit, move the ref with compare-and-swap.
- :class:`GitCliCommitter` -- git plumbing with a temporary index, ``core.fsync=all`` and
  ``core.fsyncMethod=fsync``: rev-parse, hash-object -w, read-tree, update-index --cacheinfo,
  write-tree, commit-tree, update-ref <new> <old>.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import grpc
import pygit2

from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc

BRANCH = "main"
REF = f"refs/heads/{BRANCH}"
AUTHOR = ("Bench", "bench@example.com")


class GrpcCommitter:
    def __init__(self, channel: grpc.Channel, repository_id: str) -> None:
        self.stub = pb_grpc.GitServiceStub(channel)
        self.repository_id = repository_id
        self.author = pb.Signature(name=AUTHOR[0], email=AUTHOR[1])

    def commit(self, path: str, content: bytes) -> None:
        request = pb.CommitFilesRequest(
            repository_id=self.repository_id,
            branch=BRANCH,
            author=self.author,
            message=f"Update {path}",
            trailers=pb.Trailers(actor="bench", request_id="bench"),
            actions=[pb.CommitAction(action=pb.ACTION_TYPE_UPSERT, path=path, content=content)],
        )
        self.stub.CommitFiles(request, timeout=60)

    def head(self) -> str:
        request = pb.ResolveRevisionRequest(repository_id=self.repository_id, revision=BRANCH)
        return str(self.stub.ResolveRevision(request, timeout=30).commit_sha)


class Pygit2Committer:
    def __init__(self, repo_path: Path) -> None:
        pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, True)
        self.repo = pygit2.Repository(str(repo_path))
        self.signature = pygit2.Signature(*AUTHOR)

    def commit(self, path: str, content: bytes) -> None:
        repo = self.repo
        ref = repo.references[REF]
        parent = repo[ref.target]
        assert isinstance(parent, pygit2.Commit)
        parts = path.split("/")
        trees: list[pygit2.Tree] = [parent.tree]
        for name in parts[:-1]:
            subtree = repo[trees[-1][name].id]
            assert isinstance(subtree, pygit2.Tree)
            trees.append(subtree)
        oid = repo.create_blob(content)
        mode = pygit2.enums.FileMode.BLOB
        for depth in range(len(parts) - 1, -1, -1):
            builder = repo.TreeBuilder(trees[depth])
            builder.insert(parts[depth], oid, mode)
            oid = builder.write()
            mode = pygit2.enums.FileMode.TREE
        sig = self.signature
        new = repo.create_commit(None, sig, sig, f"Update {path}", oid, [parent.id])
        ref.set_target(new)  # libgit2 compares against the head read above (CAS)


class GitCliCommitter:
    def __init__(self, repo_path: Path) -> None:
        self.repo_path = repo_path
        self.env = {
            **os.environ,
            "GIT_DIR": str(repo_path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_COUNT": "3",
            "GIT_CONFIG_KEY_0": "core.fsync",
            "GIT_CONFIG_VALUE_0": "all",
            "GIT_CONFIG_KEY_1": "core.fsyncMethod",
            "GIT_CONFIG_VALUE_1": "fsync",
            "GIT_CONFIG_KEY_2": "gc.auto",
            "GIT_CONFIG_VALUE_2": "0",
            "GIT_AUTHOR_NAME": AUTHOR[0],
            "GIT_AUTHOR_EMAIL": AUTHOR[1],
            "GIT_COMMITTER_NAME": AUTHOR[0],
            "GIT_COMMITTER_EMAIL": AUTHOR[1],
        }

    def _git(self, env: dict[str, str], *args: str, stdin: bytes | None = None) -> str:
        result = subprocess.run(
            ["git", *args], env=env, input=stdin, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {result.stderr.decode().strip()}")
        return result.stdout.decode().strip()

    def commit(self, path: str, content: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="index-", dir=self.repo_path) as tmp:
            env = {**self.env, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            old = self._git(env, "rev-parse", "--verify", REF)
            blob = self._git(env, "hash-object", "-w", "--stdin", stdin=content)
            self._git(env, "read-tree", old)
            self._git(env, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
            tree = self._git(env, "write-tree")
            new = self._git(env, "commit-tree", tree, "-p", old, "-m", f"Update {path}")
            self._git(env, "update-ref", REF, new, old)
