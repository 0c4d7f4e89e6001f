"""Ref-update events: one per ref change, with its fields; the outbox survives crashes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from gitstore.config import Settings
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.server import OUTBOX_FILE, GitServiceHandle, start_server
from tests.gitservice.events_util import collect_events
from tests.gitservice.helpers import A, action, commit, git, repo_path

TAGGER = pb.Signature(name="T", email="t@example.com")
ROOT = Path(__file__).resolve().parents[2]


async def test_each_ref_change_yields_exactly_one_event(
    service: GitServiceHandle, stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    trailers = pb.Trailers(actor="agent:9", request_id="req-1")
    c1 = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_CREATE, "p/a.yaml", b"a"),
        action(A.ACTION_TYPE_CREATE, "p/b.yaml", b"b"),
        trailers=trailers,
    )
    c2 = commit(
        stub,
        repo,
        action(A.ACTION_TYPE_UPDATE, "p/a.yaml", b"a2"),
        action(A.ACTION_TYPE_DELETE, "p/b.yaml"),
        trailers=pb.Trailers(request_id="req-2"),
    )
    stub.CreateBranch(
        pb.CreateBranchRequest(
            repository_id=repo, branch="dev", trailers=pb.Trailers(actor="u", request_id="req-3")
        )
    )
    tag = stub.CreateTag(
        pb.CreateTagRequest(
            repository_id=repo,
            tag="v1",
            message="v1",
            tagger=TAGGER,
            trailers=pb.Trailers(request_id="req-4"),
        )
    )
    stub.DeleteTag(
        pb.DeleteTagRequest(repository_id=repo, tag="v1", trailers=pb.Trailers(request_id="req-5"))
    )
    stub.DeleteBranch(
        pb.DeleteBranchRequest(
            repository_id=repo, branch="dev", trailers=pb.Trailers(request_id="req-6")
        )
    )

    events = await collect_events(settings, lambda got: len(got) >= 6)
    assert len(events) == 6, events
    assert len({e.event_id for e in events}) == 6
    by_request = {e.correlation_id: e for e in events}
    assert sorted(by_request) == [f"req-{i}" for i in range(1, 7)]
    for event in events:
        assert event.repository_id == repo and event.timestamp > 0 and event.type == "ref.updated"

    first = by_request["req-1"]
    assert (first.ref, first.old, first.new, first.actor) == (
        "refs/heads/main",
        ZERO_SHA,
        c1.commit_sha,
        "agent:9",
    )
    assert [(c.path, c.change_type) for c in first.changed_paths] == [
        ("p/a.yaml", "ADDED"),
        ("p/b.yaml", "ADDED"),
    ]
    assert first.changed_paths[0].new_blob_id == c1.changed_paths[0].new_blob_id
    second = by_request["req-2"]
    assert (second.old, second.new) == (c1.commit_sha, c2.commit_sha)
    assert [(c.path, c.change_type) for c in second.changed_paths] == [
        ("p/a.yaml", "MODIFIED"),
        ("p/b.yaml", "DELETED"),
    ]
    branch = by_request["req-3"]
    assert (branch.ref, branch.old, branch.new, branch.actor) == (
        "refs/heads/dev",
        ZERO_SHA,
        c2.commit_sha,
        "u",
    )
    assert branch.is_creation and branch.changed_paths == ()
    created_tag = by_request["req-4"]
    assert (created_tag.ref, created_tag.new) == ("refs/tags/v1", tag.tag_object_sha)
    deleted_tag = by_request["req-5"]
    assert (deleted_tag.old, deleted_tag.new) == (tag.tag_object_sha, ZERO_SHA)
    assert deleted_tag.is_deletion
    deleted_branch = by_request["req-6"]
    assert (deleted_branch.ref, deleted_branch.old) == ("refs/heads/dev", c2.commit_sha)
    assert service.outbox.count() == 0  # published rows are gone


async def test_refused_commits_publish_nothing(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings, service: GitServiceHandle
) -> None:
    done = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1"))
    for bad in (
        lambda: commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1")),
        lambda: commit(stub, repo, action(A.ACTION_TYPE_UPSERT, "a", b"2"), expected_head=ZERO_SHA),
    ):
        with pytest.raises(grpc.RpcError):
            bad()
    events = await collect_events(settings, lambda got: len(got) >= 1)
    assert [e.new for e in events] == [done.commit_sha]
    assert service.outbox.count() == 0


def _crash(settings: Settings, repo: str, path: str, mode: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.gitservice.crash_commit",
            str(settings.data_dir),
            repo,
            path,
            mode,
        ],
        cwd=ROOT,
        check=True,
        timeout=60,
    )


async def test_outbox_recovery_after_a_crash_between_cas_and_publish(settings: Settings) -> None:
    handle = start_server(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{handle.port}") as channel:
            stub = pb_grpc.GitServiceStub(channel)
            stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/r"))
            base = commit(stub, "acme/r", action(A.ACTION_TYPE_CREATE, "base", b"0"))
    finally:
        handle.stop()
    before = await collect_events(settings, lambda got: len(got) >= 1, settle=0.1)
    assert [e.new for e in before] == [base.commit_sha]

    # A process dies after its compare-and-swap, before marking the row committed ...
    _crash(settings, "acme/r", "landed.yaml", "after-cas")
    path = repo_path(settings, "acme/r")
    landed = git(path, "rev-parse", "main").strip()
    assert landed != base.commit_sha
    # ... and another dies after writing its intent, before its swap.
    _crash(settings, "acme/r", "lost.yaml", "before-cas")
    assert git(path, "rev-parse", "main").strip() == landed
    # Plus a committed-but-unpublished row of a process that closed without its relay.
    orphan = Outbox(settings.repos_dir() / OUTBOX_FILE)
    event = RefUpdateEvent(
        event_id="e-orphan",
        repository_id="acme/r",
        ref="refs/tags/x",
        old=ZERO_SHA,
        new=landed,
        correlation_id="req-orphan",
    )
    orphan.committed(orphan.intent(event))
    orphan.close()

    handle = start_server(settings)  # recovery: adopt the dead owners' rows, publish
    try:
        events = await collect_events(settings, lambda got: len(got) >= 2)
        assert handle.outbox.count() == 0
    finally:
        handle.stop()
    assert sorted((e.correlation_id, e.new) for e in events) == [
        ("req-after-cas", landed),
        ("req-orphan", landed),
    ]
    recovered = next(e for e in events if e.correlation_id == "req-after-cas")
    assert (recovered.old, recovered.actor) == (base.commit_sha, "crasher")
    assert [(c.path, c.change_type) for c in recovered.changed_paths] == [("landed.yaml", "ADDED")]


async def test_deleting_a_repository_announces_each_ref(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings, service: GitServiceHandle
) -> None:
    head = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"1")).commit_sha
    tag = stub.CreateTag(
        pb.CreateTagRequest(repository_id=repo, tag="v1", message="m", tagger=TAGGER)
    )
    stub.DeleteRepository(pb.DeleteRepositoryRequest(repository_id=repo))
    events = await collect_events(settings, lambda got: len(got) >= 4)
    deletions = sorted((e.ref, e.old, e.new) for e in events if e.is_deletion)
    assert deletions == [
        ("refs/heads/main", head, ZERO_SHA),
        ("refs/tags/v1", tag.tag_object_sha, ZERO_SHA),
    ]
    assert len(events) == 4 and service.outbox.count() == 0
