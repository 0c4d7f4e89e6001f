"""A ``gitstore worker`` process killed with SIGKILL in the middle of a shadow re-index build:
readers keep the current draft buffer whole, a commit lands while no worker runs, and the
next worker process resumes the re-index from the redelivered ``reindex.requested`` event,
catches the shadow up to the new head and switches (``worker/shadow.py``)."""

from __future__ import annotations

import asyncio

import pytest

from gitstore.backends.kv import KvStore
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain.events import ReindexEvent
from gitstore.domain.keys import ChannelScope
from gitstore.domain.reindex import BUILDING, SWITCHED, reindex_scope
from gitstore.git.client import GitClient
from gitstore.worker.claims import read_claim
from gitstore.worker.projector import Projector
from tests.worker.harness import (
    assert_kv_matches_head,
    commit,
    files_of,
    product,
    visible_draft,
    wait_until,
)
from tests.worker.test_kill import worker

N = 2000
BATCH = 25  # the shadow is built in 80 chunks: time to kill the worker in the middle


async def reindex_state(kv: KvStore, repo: str) -> dict[str, object] | None:
    doc = await kv.get(reindex_scope(repo), "reindex", "state")
    return doc.value() if doc is not None else None


@pytest.mark.slow
async def test_worker_killed_mid_shadow_build_resumes_and_switches(
    git: GitClient, kv: KvStore, repo: str, worker_settings: Settings
) -> None:
    first = await commit(
        git, repo, files_of(*(product(f"item-{i:05d}", categories=["all"]) for i in range(N)))
    )
    await Projector(git, kv, owner="setup", batch_size=N + 10).project(repo)
    visible = await visible_draft(kv, repo)
    shadow = ChannelScope(repo, "shadow-draft")
    queue = await open_queue(worker_settings.queue_url(), stream=worker_settings.queue.stream)
    try:
        event = ReindexEvent("reindex:k1:start", repo, "k1", accept_differences=True)
        await queue.publish(event.to_json(), key=repo)
    finally:
        await queue.close()

    dying = worker(worker_settings, batch=BATCH).start()
    try:
        while True:  # kill once part (not all) of the shadow is built
            built = (await kv.list_documents(shadow, "product", first=1)).total_count
            if built >= BATCH and await read_claim(kv, shadow) is not None:
                break
            assert built < N, "the shadow build finished before the kill"
            assert dying.proc is not None and dying.proc.poll() is None, dying.log
            await asyncio.sleep(0.005)
        dying.kill()
    finally:
        dying.close()
    state = await reindex_state(kv, repo)
    assert state is not None and state["state"] == BUILDING
    # Readers: the first commit, whole, in the same buffer.
    assert await visible_draft(kv, repo) == visible
    head = await kv.head(visible)
    assert head is not None and head.version == first.commit_sha
    assert (await kv.list_documents(visible, "product", first=1)).total_count == N

    # A write lands (and is projected in place) while the re-index is down.
    moved = await commit(git, repo, files_of(product("item-00000", title="changed")))
    await Projector(git, kv, owner="setup", batch_size=BATCH).project(repo)
    assert await visible_draft(kv, repo) == visible

    restarted = worker(worker_settings, batch=BATCH, stale=1.0).start()
    try:

        async def switched() -> bool:
            now = await reindex_state(kv, repo)
            return now is not None and now["state"] == SWITCHED

        await wait_until(switched, timeout=240, what="the re-index to switch")
    finally:
        restarted.close()
    state = await reindex_state(kv, repo)
    assert state is not None
    views = state["views"]
    assert isinstance(views, dict) and views["draft"]["commit"] == moved.commit_sha
    now = await visible_draft(kv, repo)
    assert now != visible  # readers moved to the re-indexed buffer
    head = await kv.head(now)
    assert head is not None and head.version == moved.commit_sha
    await assert_kv_matches_head(kv, git, repo)
    assert await kv.head(shadow) is None  # cleaned up
