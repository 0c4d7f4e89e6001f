"""``gitstore worker`` killed with SIGKILL in the middle of projecting a 5,000-product commit,
and in the middle of copying a 5,000-product draft buffer into the standby.

The branch moves on while the worker is dead (changing, deleting and adding products the
dead worker had already written), then a new worker process starts. The KV must end up equal
to the branch head, document by document, with nothing left over. The worker also stops
cleanly on SIGTERM and serves /metrics on its port.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest

from gitstore.backends.kv import KvStore
from gitstore.config import Settings
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import draft_scope
from gitstore.git.client import GitClient
from gitstore.worker.claims import read_claim
from gitstore.worker.projector import Projector
from tests.worker.harness import (
    assert_kv_matches_head,
    commit,
    files_of,
    product,
    visible_draft,
    wait_for_head,
)
from tests.worker.proc import WorkerProcess

N = 5000
BATCH = 250
COPY_BATCH = 25  # a copy of N documents in 200 steps: time to kill the worker in the middle


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker(
    settings: Settings, *, metrics_port: int = 0, stale: float = 60.0, batch: int = BATCH
) -> WorkerProcess:
    return WorkerProcess(
        data_dir=settings.data_dir,
        git_uri=settings.git.grpc.uri,
        kv_url=settings.kv_url(),
        queue_url=settings.queue_url(),
        metrics_port=metrics_port,
        env={
            "GITSTORE_QUEUE__ACK_WAIT": "2",
            "GITSTORE_WORKER__BATCH_SIZE": str(batch),
            "GITSTORE_WORKER__CLAIM_STALE_SECONDS": str(stale),
        },
    )


@pytest.mark.slow
async def test_worker_killed_mid_projection_converges_after_restart(
    git: GitClient, kv: KvStore, repo: str, worker_settings: Settings
) -> None:
    products = [
        product(f"item-{i:05d}", categories=[f"cat-{i % 20}"], collections=["all"])
        for i in range(N)
    ]
    big = await commit(git, repo, files_of(*products))
    # Too large for one batch: written into the standby buffer ``draft-b`` while readers see
    # ``draft`` (nothing yet), then switched (``worker/draft_switch.py``).
    scope = ChannelScope(repo, "draft-b")

    first = worker(worker_settings).start()
    try:
        # Kill as soon as a chunk (but not the whole projection) is in the KV.
        while True:
            page = await kv.list_documents(scope, "product", first=1)
            if page.total_count >= BATCH:
                break
            assert first.proc is not None and first.proc.poll() is None, first.log
            await asyncio.sleep(0.01)
        first.kill()
    finally:
        first.close()
    head = await kv.head(scope)
    assert head is None or head.version != big.commit_sha, "finished before the kill"
    claim = await read_claim(kv, scope)
    assert claim is not None and claim.targets == (big.commit_sha,)
    written = sorted(d.name for d in (await kv.list_documents(scope, "product", first=1000)).items)
    assert len(written) >= BATCH
    # Readers see no part of the killed projection.
    assert await visible_draft(kv, repo) == draft_scope(repo)
    assert (await kv.list_documents(draft_scope(repo), "product", first=1)).total_count == 0

    # While no worker runs, the branch moves on: some written products change, some go,
    # new ones arrive.
    changed = [product(n, title=f"changed {n}", categories=["moved"]) for n in written[:40]]
    added = [product(f"new-{i}") for i in range(5)]
    gone = [f"products/{n}.yaml" for n in written[40:80]]
    moved = await commit(git, repo, files_of(*changed, *added), deletes=gone)

    port = free_port()
    second = worker(worker_settings, metrics_port=port, stale=1.0).start()
    try:
        await wait_for_head(kv, repo, moved.commit_sha, timeout=240)
        await assert_kv_matches_head(kv, git, repo)
        scope = await visible_draft(kv, repo)
        total = await kv.list_documents(scope, "product", first=1)
        assert total.total_count == N - 40 + 5
        moved_page = await kv.lookup(scope, "product", "category", "moved", first=100)
        assert sorted(d.name for d in moved_page.items) == written[:40]

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                return str(r.read().decode())

        metrics = await asyncio.to_thread(scrape)
        assert 'gitstore_worker_events_total{outcome="projected"}' in metrics
        assert second.terminate() == 0
        assert "worker stopped" in second.log
    finally:
        second.close()


@pytest.mark.slow
async def test_worker_killed_mid_copy_leaves_readers_on_the_previous_commit(
    git: GitClient, kv: KvStore, repo: str, worker_settings: Settings
) -> None:
    """The first large commit after a big first projection copies the visible buffer into the
    empty standby (``worker/draft_copy.py``): SIGKILL in the middle of that copy, readers keep
    the previous commit whole, and the next worker redoes the copy and switches."""
    first = await commit(
        git, repo, files_of(*(product(f"item-{i:05d}", categories=["all"]) for i in range(N)))
    )
    await Projector(git, kv, owner="setup", batch_size=2000).project(repo)
    visible = ChannelScope(repo, "draft-b")
    assert await visible_draft(kv, repo) == visible
    changes = [product(f"item-{i:05d}", title=f"v2 {i}") for i in range(0, N, 10)]
    second = await commit(git, repo, files_of(*changes))  # 500 changes: the standby's job
    standby = draft_scope(repo)

    dying = worker(worker_settings, batch=COPY_BATCH).start()
    try:
        # Kill once part (not all) of the catalogue is copied into the standby.
        while True:
            claim = await read_claim(kv, standby)
            copied = (await kv.list_documents(standby, "product", first=1)).total_count
            if claim is not None and claim.copying and copied >= COPY_BATCH:
                break
            assert copied < N, "the copy finished before the kill"
            assert dying.proc is not None and dying.proc.poll() is None, dying.log
            await asyncio.sleep(0.005)
        dying.kill()
    finally:
        dying.close()
    claim = await read_claim(kv, standby)
    assert claim is not None and claim.copying
    assert (await kv.list_documents(standby, "product", first=1)).total_count < N
    # Readers: the first commit, whole.
    assert await visible_draft(kv, repo) == visible
    head = await kv.head(visible)
    assert head is not None and head.version == first.commit_sha
    page = await kv.list_documents(visible, "product", first=1)
    assert page.total_count == N and page.items[0].value()["spec"]["title"] == "Item 00000"

    port = free_port()
    restarted = worker(worker_settings, metrics_port=port, stale=1.0, batch=COPY_BATCH).start()
    try:
        await wait_for_head(kv, repo, second.commit_sha, timeout=240)
        await assert_kv_matches_head(kv, git, repo)
        assert await visible_draft(kv, repo) == standby

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                return str(r.read().decode())

        metrics = await asyncio.to_thread(scrape)
        # the copy was redone whole by the new worker, and only the commit was projected
        assert f'gitstore_worker_documents_total{{op="copy"}} {float(N)}' in metrics
        assert f'gitstore_worker_documents_total{{op="upsert"}} {float(len(changes))}' in metrics
    finally:
        restarted.close()
