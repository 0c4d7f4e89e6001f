"""Reading the files a change request touches, through the git service only.

A diff or merge never needs whole trees: the paths that changed between the merge base and
either side are the only ones that can differ (``GetChangedPaths``), and their contents at
each commit come in one ``GetBlobBatches`` call per commit. Snapshots built from them are
partial but exact for those paths, which is all ``domain.changes`` compares.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from gitstore.domain.changes import Snapshot, snapshot
from gitstore.domain.content import KindRegistry
from gitstore.domain.events import ZERO_SHA
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb


async def changed_paths(git: GitClient, repository_id: str, old: str, new: str) -> set[str]:
    if old == new:
        return set()
    request = pb.GetChangedPathsRequest(
        repository_id=repository_id, from_revision="" if old == ZERO_SHA else old, to_revision=new
    )
    out: set[str] = set()
    for change in await git.get_changed_paths(request):
        out.add(change.path)
        if change.old_path:
            out.add(change.old_path)
    return out


async def files_at(
    git: GitClient, repository_id: str, revision: str, paths: Iterable[str]
) -> dict[str, bytes]:
    wanted = sorted(set(paths))
    if not wanted or revision == ZERO_SHA:
        return {}
    request = pb.GetBlobsRequest(repository_id=repository_id, revision=revision, paths=wanted)
    found: dict[str, bytes] = {}
    async for batch in git.get_blob_batches(request):
        for blob in batch.blobs:
            if not blob.missing:
                found[blob.path] = blob.content
    return found


async def snapshots(
    git: GitClient,
    repository_id: str,
    revisions: list[str],
    paths: set[str],
    registry: KindRegistry,
    max_bytes: int,
) -> list[Snapshot]:
    """One snapshot of ``paths`` per revision."""
    contents = await asyncio.gather(*(files_at(git, repository_id, r, paths) for r in revisions))
    return [snapshot(files, registry, max_bytes) for files in contents]
