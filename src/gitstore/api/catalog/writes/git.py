"""The git service calls of the write pipeline, on one branch of one repository.

:class:`BranchView` wraps the gRPC client (``gitstore.git.client``) with the few questions
the mutations ask, each one call:

* ``head()`` — the branch's commit, or None when the branch does not exist yet (``ListRefs``
  with the exact ref name, so a missing *repository* stays ``NotFound``);
* ``files(revision, identities)`` — the manifest files of some resources at a revision:
  one ``GetBlobs`` for every candidate path (``products/<name>.yaml|.yml|.json|.md``), so an
  upsert finds an existing file whatever its format;
* ``blobs(paths=, ids=, revision=)``, ``changed_paths(from, to)``, ``log(revision, path=,
  limit=)``, ``commit_info(revision)``;
* ``commit(...)`` — ``CommitFiles`` with the author, message, trailers and the
  ``expected_head`` CAS, timed into the commit-latency histogram.

**Read set.** The view remembers every path it read at each revision (``paths_read``): what a
plan made at a branch head depended on. A commit sends them as ``read_paths`` with
``rebase``, so the git service may apply it to a later head as long as none of those paths
(nor the ones it writes) changed — see ``docs/mutations.md`` "Concurrent writers". Reads by
blob id are content-addressed and reads at fixed commits cannot change, so only reads *by
path at the planned head* matter. Whatever a planner reads through the view at the head
(today: the candidate files of the written resources, and a revert's files) is therefore
part of the precondition, without the planner having to declare it.

Revision-not-found answers are turned into errors naming the mutation's input field by the
callers, which know which field a revision came from.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gitstore.domain.content import (
    LAYOUT_MARKER,
    KindRegistry,
    Layout,
    ManifestFormat,
    candidate_paths,
    format_for_path,
    layout_of,
)
from gitstore.domain.content.manifest import ResourceIdentity
from gitstore.domain.errors import FailedPrecondition
from gitstore.domain.events import ZERO_SHA
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb

from .metrics import WriteMetrics

MAX_BLOBS_PER_CALL = 8_000  # the git service takes at most 10,000 paths and ids per GetBlobs


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: str
    blob_id: str
    content: bytes

    @property
    def format(self) -> ManifestFormat:
        fmt = format_for_path(self.path)
        return fmt if fmt is not None else ManifestFormat.YAML


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str


class BranchView:
    def __init__(
        self,
        git: GitClient,
        repository_id: str,
        branch: str,
        *,
        registry: KindRegistry,
        metrics: WriteMetrics | None = None,
    ) -> None:
        self.git = git
        self.repository_id = repository_id
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self.registry = registry
        self.metrics = metrics
        self._reads: dict[str, set[str]] = {}

    def paths_read(self, revision: str | None) -> list[str]:
        """Every path read at ``revision`` (None: before the branch's first commit) through
        this view so far (sorted)."""
        return sorted(self._reads.get(revision or "", ()))

    async def head(self) -> str | None:
        refs = await self.git.list_refs(self.repository_id, self.ref)
        return next((r.peeled or r.target for r in refs if r.name == self.ref), None)

    async def files(
        self, revision: str | None, identities: Iterable[ResourceIdentity]
    ) -> dict[ResourceIdentity, list[StoredFile]]:
        """The files holding each resource at ``revision`` (None: nothing exists yet)."""
        wanted = list(dict.fromkeys(identities))
        found: dict[ResourceIdentity, list[StoredFile]] = {i: [] for i in wanted}
        owner: dict[str, ResourceIdentity] = {}
        for identity in wanted:
            for path in candidate_paths(identity.kind, identity.name, self.registry):
                owner[path] = identity
        paths = list(owner)
        if revision is None:  # nothing exists yet: "absent" is what was read
            self._reads.setdefault("", set()).update(paths)
            return found
        for start in range(0, len(paths), MAX_BLOBS_PER_CALL):
            chunk = paths[start : start + MAX_BLOBS_PER_CALL]
            for stored in await self.blobs(revision, paths=chunk):
                found[owner[stored.path]].append(stored)
        return found

    async def layout(self, revision: str | None) -> Layout:
        """The repository layout at ``revision`` (None: no commit yet), from its marker file;
        the marker's path is recorded as read, so a concurrent migration re-plans a write.
        With no commit the marker is not a read: the first commit writes it, and the git
        service lets two first commits writing the same marker both land."""
        if revision is None:
            return layout_of(None, has_commits=False)
        found = await self.blobs(revision, paths=[LAYOUT_MARKER])
        return layout_of(found[0].content if found else None, has_commits=True)

    async def blobs(
        self, revision: str, *, paths: Sequence[str] = (), ids: Sequence[str] = ()
    ) -> list[StoredFile]:
        """Present blobs by path at ``revision`` and/or by id (missing ones left out)."""
        if not paths and not ids:
            return []
        if paths:
            self._reads.setdefault(revision, set()).update(paths)
        request = pb.GetBlobsRequest(
            repository_id=self.repository_id,
            revision=revision,
            paths=list(paths),
            blob_ids=list(ids),
        )
        return [
            StoredFile(blob.path, blob.blob_id, blob.content)
            async for blob in self.git.get_blobs(request)
            if not blob.missing
        ]

    async def blobs_by_id(self, ids: Iterable[str]) -> dict[str, bytes]:
        wanted = sorted({i for i in ids if i and i != ZERO_SHA})
        found: dict[str, bytes] = {}
        for start in range(0, len(wanted), MAX_BLOBS_PER_CALL):
            chunk = wanted[start : start + MAX_BLOBS_PER_CALL]
            found.update((s.blob_id, s.content) for s in await self.blobs("", ids=chunk))
        return found

    async def changed_paths(self, from_revision: str, to_revision: str) -> list[pb.ChangedPath]:
        return await self.git.get_changed_paths(
            pb.GetChangedPathsRequest(
                repository_id=self.repository_id,
                from_revision=from_revision,
                to_revision=to_revision,
            )
        )

    async def log(
        self, revision: str, *, path: str = "", limit: int = 0, offset: int = 0
    ) -> list[pb.CommitInfo]:
        request = pb.CommitLogRequest(
            repository_id=self.repository_id,
            revision=revision,
            path=path,
            limit=limit,
            offset=offset,
        )
        return [info async for info in self.git.commit_log(request)]

    async def commit_info(self, revision: str) -> pb.CommitInfo:
        infos = await self.log(revision, limit=1)
        if not infos:  # pragma: no cover - a resolvable revision always has a commit
            raise FailedPrecondition(f"revision {revision!r} names no commit")
        return infos[0]

    async def last_change(self, revision: str, path: str) -> pb.CommitInfo | None:
        infos = await self.log(revision, path=path, limit=1)
        return infos[0] if infos else None

    async def commit(
        self,
        actions: Sequence[pb.CommitAction],
        *,
        expected_head: str | None,
        author: Author,
        message: str,
        trailers: Mapping[str, str],
        extra_trailers: Mapping[str, str] | None = None,
        start_revision: str = "",
        read_paths: Sequence[str] = (),
    ) -> pb.CommitFilesResponse:
        """One commit on the branch; ``expected_head`` None = the branch must not exist.

        The commit is sent with ``rebase`` and ``read_paths`` (what the plan read at the
        head, or at ``start_revision`` for a new branch): it lands on a later head when none
        of its paths nor ``read_paths`` changed since."""
        signature = pb.Signature(name=author.name, email=author.email)
        request = pb.CommitFilesRequest(
            repository_id=self.repository_id,
            branch=self.branch,
            expected_head=expected_head or ZERO_SHA,
            author=signature,
            message=message,
            trailers=pb.Trailers(
                actor=trailers.get("actor", ""),
                request_id=trailers.get("request_id", ""),
                idempotency_key=trailers.get("idempotency_key", ""),
                schema_version=trailers.get("schema_version", ""),
                extra=dict(extra_trailers or {}),
            ),
            actions=list(actions),
            start_revision=start_revision,
            rebase=True,
            read_paths=list(read_paths),
        )
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self.git.commit_files(request)
            outcome = "ok"
            return response
        except FailedPrecondition:
            outcome = "stale"
            raise
        finally:
            if self.metrics is not None:
                self.metrics.commit(time.perf_counter() - started, outcome)
