"""kill -9 of a real ``gitstore git-service`` while clients stream commits into it.

After each kill: ``git fsck --full --strict`` finds nothing wrong, every commit the service
acknowledged is in the branch history, and the service restarts and commits again (a ref
lock left by the killed process is recognised as stale). At the end every acknowledged
commit has had its ref-update event published (the outbox survived the kills).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import grpc
import pytest

from gitstore.domain.events import RefUpdateEvent
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from tests.gitservice.events_util import collect_events
from tests.gitservice.helpers import A, action, commit, git, make_settings
from tests.gitservice.proc import ServiceProcess

REPO = "acme/durable"
ROUNDS = 3
WRITERS = 4


def stream_commits(
    stub: pb_grpc.GitServiceStub, writer: int, acked: list[str], stop: threading.Event
) -> None:
    i = 0
    while not stop.is_set():
        try:
            done = commit(
                stub,
                REPO,
                action(A.ACTION_TYPE_UPSERT, f"w{writer}/f{i % 7}.yaml", b"%d" % i),
                message=f"writer {writer} commit {i}",
            )
        except grpc.RpcError:
            return  # the service is gone
        acked.append(done.commit_sha)
        i += 1


def check_repository(path: Path, acked: list[str]) -> None:
    fsck = git(path, "fsck", "--full", "--strict", "--no-dangling", "--no-progress")
    assert "error" not in fsck.lower() and "missing" not in fsck.lower(), fsck
    history = set(git(path, "rev-list", "main").split())
    missing = [sha for sha in acked if sha not in history]
    assert not missing, f"{len(missing)} acknowledged commits lost"
    for line in git(path, "for-each-ref", "--format=%(objectname) %(refname)").splitlines():
        sha, _ref = line.split()
        assert git(path, "cat-file", "-t", sha).strip() in {"commit", "tag"}


@pytest.mark.slow
async def test_kill_9_during_a_stream_of_commits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = make_settings(data)
    path = settings.repos_dir() / "acme" / "durable.git"
    env = {"GITSTORE_GIT__STALE_LOCK_SECONDS": "1"}
    acked: list[str] = []
    rng = random.Random(7)
    for round_ in range(ROUNDS):
        service = ServiceProcess(data, env=env)
        with service, grpc.insecure_channel(service.address) as channel:
            stub = pb_grpc.GitServiceStub(channel)
            if round_ == 0:
                stub.CreateRepository(pb.CreateRepositoryRequest(repository_id=REPO))
            else:  # the restarted service takes commits again, over any stale ref lock
                acked.append(
                    commit(
                        stub, REPO, action(A.ACTION_TYPE_UPSERT, "restart", b"%d" % round_)
                    ).commit_sha
                )
            before = len(acked)
            stop = threading.Event()
            writers = [
                threading.Thread(target=stream_commits, args=(stub, w, acked, stop))
                for w in range(WRITERS)
            ]
            for writer in writers:
                writer.start()
            deadline = time.monotonic() + 60
            while len(acked) < before + 10 + rng.randrange(10):
                assert time.monotonic() < deadline, "commits did not flow"
                time.sleep(0.01)
            time.sleep(rng.random() * 0.05)
            service.kill()  # SIGKILL, mid-stream
            stop.set()
            for writer in writers:
                writer.join(60)
        check_repository(path, acked)

    with (
        ServiceProcess(data, env=env) as service,
        grpc.insecure_channel(service.address) as channel,
    ):
        stub = pb_grpc.GitServiceStub(channel)
        acked.append(commit(stub, REPO, action(A.ACTION_TYPE_UPSERT, "final", b"done")).commit_sha)
        wanted = set(acked)

        def all_published(events: list[RefUpdateEvent]) -> bool:
            return wanted <= {e.new for e in events}

        events = await collect_events(settings, all_published, timeout=60, settle=0.1)
        assert service.terminate() == 0
    check_repository(path, acked)
    # at-least-once: duplicates are possible only as republished rows (same event id)
    by_commit: dict[str, set[str]] = {}
    for event in events:
        by_commit.setdefault(event.new, set()).add(event.event_id)
    assert all(len(ids) == 1 for sha, ids in by_commit.items() if sha in wanted)
