"""``gitstore worker`` killed with SIGKILL in the middle of projecting a 5,000-product commit.

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker(settings: Settings, *, metrics_port: int = 0, stale: float = 60.0) -> WorkerProcess:
    return WorkerProcess(
        data_dir=settings.data_dir,
        git_uri=settings.git.grpc.uri,
        kv_url=settings.kv_url(),
        queue_url=settings.queue_url(),
        metrics_port=metrics_port,
        env={
            "GITSTORE_QUEUE__ACK_WAIT": "2",
            "GITSTORE_WORKER__BATCH_SIZE": str(BATCH),
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
