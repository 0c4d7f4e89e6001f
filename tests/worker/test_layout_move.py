"""Projecting a layout migration (``migrateRepositoryLayout``: every manifest moved to its
fan-out bucket, contents unchanged) costs no fetch, parse or validation: each moved document
is read from the KV and rewritten with its new ``path`` only."""

from __future__ import annotations

from typing import Any

import pytest

from gitstore.backends.kv import KvStore
from gitstore.domain.content import LAYOUT_MARKER, Layout, layout_moves, marker_content
from gitstore.git.client import GitClient
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.worker.projector import Projector
from tests.worker.harness import (
    AUTHOR,
    assert_kv_matches_head,
    category,
    collection,
    commit,
    files_of,
    product,
)

pytestmark = pytest.mark.asyncio
T = pb.ActionType
PRODUCTS = 500


async def migrate(git: GitClient, repo: str, paths: list[str]) -> None:
    actions = [
        pb.CommitAction(action=T.ACTION_TYPE_MOVE, previous_path=old, path=new)
        for old, new in layout_moves(paths)
    ]
    actions.append(
        pb.CommitAction(
            action=T.ACTION_TYPE_UPSERT, path=LAYOUT_MARKER, content=marker_content(Layout.FANOUT)
        )
    )
    await git.commit_files(
        pb.CommitFilesRequest(
            repository_id=repo,
            author=AUTHOR,
            message="layout",
            actions=actions,
            trailers=pb.Trailers(actor="test", request_id="layout"),
        ),
        timeout=120,
    )


async def test_projecting_the_migration_commit_rewrites_paths_only(
    git: GitClient, kv: KvStore, repo: str, projector: Projector, monkeypatch: Any
) -> None:
    files = files_of(
        *(product(f"p-{i:04d}", categories=["mugs"]) for i in range(PRODUCTS)),
        category("mugs"),
        collection("sale", products=["p-0001"]),
    )
    await commit(git, repo, files)
    await projector.project(repo)
    await assert_kv_matches_head(kv, git, repo)

    prepared: list[str] = []
    real = projector.pool.prepare

    async def spy(items: Any, *args: Any, **kwargs: Any) -> Any:
        prepared.extend(path for path, _, _ in items)
        return await real(items, *args, **kwargs)

    monkeypatch.setattr(projector.pool, "prepare", spy)
    fetched: list[str] = []
    real_batches = git.get_blob_batches

    def spy_batches(request: pb.GetBlobsRequest, *args: Any, **kwargs: Any) -> Any:
        fetched.extend(request.blob_ids)
        return real_batches(request, *args, **kwargs)

    monkeypatch.setattr(git, "get_blob_batches", spy_batches)
    await migrate(git, repo, sorted(files))
    result = await projector.project(repo)
    assert prepared == []  # nothing parsed or validated
    assert fetched == []  # no blob fetched by id
    assert result.relocated == PRODUCTS + 2 and result.upserts == PRODUCTS + 2
    assert result.deletes == 0 and result.invalid == []
    await assert_kv_matches_head(kv, git, repo)  # every document carries its new path
