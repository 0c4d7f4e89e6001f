"""git over the smart-protocol RPCs, end to end with a real ``git`` client.

The path: ``git`` -> test HTTP shim (tests/support/git_http_shim.py, stands in for the API's
relay) -> ``AdvertiseRefs`` / ``UploadPack`` / ``ReceivePack`` -> ``git upload-pack`` /
``receive-pack`` -> our hooks -> a test HookService (real gRPC server) deciding.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from gitstore.config import Settings
from gitstore.domain.events import ZERO_SHA, RefUpdateEvent
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice.server import GitServiceHandle
from gitstore.hook.v1 import hook_service_pb2 as hook_pb
from tests.gitservice.events_util import collect_events
from tests.gitservice.helpers import A, action, commit, git, repo_path
from tests.gitservice.transport_util import commit_file, remote_lines, run_git
from tests.support.fake_hooks import FakeHooks
from tests.support.git_http_shim import Shim


def _url(http: tuple[str, Shim], repo: str) -> str:
    return f"{http[0]}/{repo}.git"


def _head(stub: pb_grpc.GitServiceStub, repo: str, ref: str = "main") -> str:
    request = pb.ResolveRevisionRequest(repository_id=repo, revision=ref)
    return stub.ResolveRevision(request).commit_sha


def test_clone_and_fetch(
    tmp_path: Path,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    hooks: FakeHooks,
    work: Path,
) -> None:
    assert (work / "products/a.yaml").read_text() == "name: a\n"
    new = commit(stub, seeded, action(A.ACTION_TYPE_CREATE, "products/b.yaml", b"name: b\n"))
    run_git(tmp_path, "fetch", "-q", "origin", cwd=work)
    fetched = run_git(tmp_path, "rev-parse", "origin/main", cwd=work).stdout.strip()
    assert fetched == new.commit_sha
    assert hooks.pre == []  # fetches run no hooks


def test_clone_protocol_v2(
    tmp_path: Path, seeded: str, http: tuple[str, Shim], stub: pb_grpc.GitServiceStub
) -> None:
    work = tmp_path / "work"
    done = run_git(
        tmp_path, "-c", "trace2.eventTarget=", "clone", _url(http, seeded), str(work), protocol=2
    )
    assert done.returncode == 0
    advert = b"".join(
        r.data
        for r in stub.AdvertiseRefs(
            pb.AdvertiseRefsRequest(
                repository_id=seeded, service="git-upload-pack", git_protocol="version=2"
            )
        )
    )
    assert advert.startswith(b"000eversion 2\n")
    assert run_git(tmp_path, "rev-parse", "HEAD", cwd=work).stdout.strip() == _head(stub, seeded)


def test_push_accepted_writes_events_with_the_push_id(
    tmp_path: Path,
    settings: Settings,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    http: tuple[str, Shim],
    hooks: FakeHooks,
    work: Path,
) -> None:
    hooks.post_messages = ["release v1 recorded"]
    old = _head(stub, seeded)
    new = commit_file(tmp_path, work, "products/c.yaml", "name: c\n", "add c")
    done = run_git(tmp_path, "push", "origin", "main", cwd=work)
    assert _head(stub, seeded) == new
    assert "release v1 recorded" in remote_lines(done.stderr)

    (pre,) = hooks.pre
    (pushed,) = pre.refs
    assert (pushed.update.ref, pushed.update.old, pushed.update.new) == (
        "refs/heads/main",
        old,
        new,
    )
    assert pushed.new_type == "commit" and pushed.peeled == new and pushed.fast_forward
    assert [c.sha for c in pushed.commits] == [new] and not pushed.truncated
    assert pushed.commits[0].signature == "none"
    assert pre.context.username == "ada" and pre.context.transport == "http"
    (post,) = hooks.post
    assert [(u.ref, u.old, u.new) for u in post.updates] == [("refs/heads/main", old, new)]
    push_id = post.context.push_id
    assert push_id == pre.context.push_id and push_id in http[1].push_ids

    def done_(events: list[RefUpdateEvent]) -> bool:
        return any(e.correlation_id == push_id for e in events)

    events = asyncio.run(collect_events(settings, done_))
    (event,) = [e for e in events if e.correlation_id == push_id]
    assert (event.ref, event.old, event.new, event.actor) == ("refs/heads/main", old, new, "ada")
    assert [(c.path, c.change_type) for c in event.changed_paths] == [("products/c.yaml", "ADDED")]


def test_push_of_a_new_branch_and_a_tag(
    tmp_path: Path,
    settings: Settings,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    hooks: FakeHooks,
    work: Path,
) -> None:
    run_git(tmp_path, "checkout", "-q", "-b", "feature", cwd=work)
    new = commit_file(tmp_path, work, "products/d.yaml", "name: d\n", "add d")
    run_git(tmp_path, "tag", "-a", "v1", "-m", "one", cwd=work)
    run_git(tmp_path, "push", "origin", "feature", "v1", cwd=work)
    refs = {r.update.ref: r for r in hooks.pre[0].refs}
    assert refs["refs/heads/feature"].update.old == ZERO_SHA
    assert refs["refs/heads/feature"].fast_forward
    tag = refs["refs/tags/v1"]
    assert tag.new_type == "tag" and tag.peeled == new and tag.tag_signature == "none"
    listed = stub.ListRefs(pb.ListRefsRequest(repository_id=seeded, prefix="refs/tags/"))
    assert [(r.name, r.peeled) for r in listed.refs] == [("refs/tags/v1", new)]
    push_id = hooks.post[0].context.push_id
    events = asyncio.run(
        collect_events(settings, lambda es: sum(e.correlation_id == push_id for e in es) == 2)
    )
    mine = sorted((e.ref, e.old) for e in events if e.correlation_id == push_id)
    assert mine == [("refs/heads/feature", ZERO_SHA), ("refs/tags/v1", ZERO_SHA)]


def test_refused_push_changes_nothing_and_shows_the_messages(
    tmp_path: Path,
    settings: Settings,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    hooks: FakeHooks,
    work: Path,
) -> None:
    block = ["----", "❌ POLICY CHECK FAILED  (1 problem)", "products/x.yaml [schema] bad"]
    hooks.decide = lambda _request: (False, block)
    before = _head(stub, seeded)
    bad = commit_file(tmp_path, work, "products/x.yaml", "nope\n", "bad one")
    done = run_git(tmp_path, "push", "origin", "main", cwd=work, check=False)
    assert done.returncode != 0
    assert "pre-receive hook declined" in done.stderr
    assert remote_lines(done.stderr)[: len(block)] == block
    assert _head(stub, seeded) == before
    assert hooks.post == []
    path = repo_path(settings, seeded)
    assert git(path, "cat-file", "-t", before).strip() == "commit"
    missing = run_git(tmp_path, "--git-dir", str(path), "cat-file", "-e", bad, check=False)
    assert missing.returncode != 0  # the quarantine was thrown away
    git(path, "fsck", "--strict", "--no-dangling")
    assert service_outbox_empty(settings)  # no intent left behind by the refused push


def service_outbox_empty(settings: Settings) -> bool:
    with sqlite3.connect(settings.repos_dir() / ".outbox.sqlite3") as conn:
        rows = conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'intent'").fetchone()
    return bool(rows[0] == 0)


def test_hook_service_down_refuses_with_a_message(
    tmp_path: Path,
    service: GitServiceHandle,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    work: Path,
) -> None:
    service.set_hook_uri("127.0.0.1:1")
    before = _head(stub, seeded)
    commit_file(tmp_path, work, "products/e.yaml", "name: e\n", "add e")
    done = run_git(tmp_path, "push", "origin", "main", cwd=work, check=False)
    assert done.returncode != 0
    assert (
        "push refused: the GitStore API hook service at 127.0.0.1:1 is unavailable"
        in remote_lines(done.stderr)
    )
    assert _head(stub, seeded) == before


def test_non_fast_forward_and_deletion_are_reported(
    tmp_path: Path,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    hooks: FakeHooks,
    work: Path,
) -> None:
    commit_file(tmp_path, work, "products/f.yaml", "name: f\n", "add f")
    run_git(tmp_path, "push", "-q", "origin", "main:side", cwd=work)
    run_git(tmp_path, "reset", "-q", "--hard", "HEAD~1", cwd=work)
    rewritten = commit_file(tmp_path, work, "products/g.yaml", "name: g\n", "add g")
    run_git(tmp_path, "push", "-q", "--force", "origin", "main:side", cwd=work)
    forced = hooks.pre[-1].refs[0]
    assert forced.update.new == rewritten and not forced.fast_forward
    run_git(tmp_path, "push", "-q", "origin", ":side", cwd=work)
    deleted = hooks.pre[-1].refs[0]
    assert deleted.update.new == ZERO_SHA and deleted.new_type == "" and not deleted.fast_forward
    refs = stub.ListRefs(pb.ListRefsRequest(repository_id=seeded, prefix="refs/heads/"))
    assert [r.name for r in refs.refs] == ["refs/heads/main"]


def test_pushed_commits_hide_what_refs_reach_and_are_capped(
    tmp_path: Path,
    settings: Settings,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    hooks: FakeHooks,
    service: GitServiceHandle,
    work: Path,
) -> None:
    service.transport.max_commits = 2
    shas = [commit_file(tmp_path, work, f"p/{i}.txt", f"{i}\n", f"c{i}") for i in range(3)]
    run_git(tmp_path, "push", "-q", "origin", "main", cwd=work)
    pushed = hooks.pre[-1].refs[0]
    assert [c.sha for c in pushed.commits] == shas[:2] and pushed.truncated
    assert list(pushed.commits[1].parent_shas) == [shas[0]]
    run_git(tmp_path, "push", "-q", "origin", "main:copy", cwd=work)
    copy = hooks.pre[-1].refs[0]
    assert list(copy.commits) == [] and not copy.truncated


def test_anything_but_our_hooks_is_ignored(
    tmp_path: Path,
    settings: Settings,
    stub: pb_grpc.GitServiceStub,
    seeded: str,
    hooks: FakeHooks,
    work: Path,
) -> None:
    """A hook planted in the repository's hooks/ directory never runs."""
    path = repo_path(settings, seeded)
    marker = tmp_path / "ran"
    planted = path / "hooks" / "pre-receive"
    planted.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    planted.chmod(0o755)
    git(path, "config", "core.hooksPath", str(path / "hooks"))
    new = commit_file(tmp_path, work, "products/h.yaml", "name: h\n", "add h")
    run_git(tmp_path, "push", "-q", "origin", "main", cwd=work)
    assert _head(stub, seeded) == new and not marker.exists()
    assert isinstance(hooks.pre[0], hook_pb.PreReceiveRequest)
