"""Concurrent writers: threads on one server, a foreign writer, and several OS processes."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pygit2
import pytest

from gitstore.config import GitSettings, Settings
from gitstore.domain.errors import Aborted
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice import commits
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.storage import RepositoryStore
from tests.gitservice.helpers import AUTHOR, A, action, commit, git, repo_path
from tests.gitservice.proc import ROOT, ServiceProcess


def assert_linear(path: Path, expected_commits: int) -> list[str]:
    shas = git(path, "rev-list", "main").split()
    assert len(shas) == expected_commits
    parents = git(path, "rev-list", "--parents", "main").splitlines()
    assert all(len(line.split()) <= 2 for line in parents)  # no merges: one line of history
    return shas


def test_twenty_concurrent_committers_to_different_files_all_land(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    base = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "base", b"0"))

    def one(i: int) -> pb.CommitFilesResponse:
        return commit(
            stub,
            repo,
            action(A.ACTION_TYPE_CREATE, f"products/p{i:02d}.yaml", b"%d" % i),
            message=f"add p{i}",
        )

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    path = repo_path(settings, repo)
    shas = assert_linear(path, 21)
    assert {r.commit_sha for r in results} == set(shas) - {base.commit_sha}
    listing = git(path, "ls-tree", "-r", "--name-only", "main").split()
    assert sorted(listing) == ["base"] + [f"products/p{i:02d}.yaml" for i in range(20)]
    # each answer's changed paths name only its own file
    assert sorted(r.changed_paths[0].path for r in results) == listing[1:]


def test_same_expected_head_exactly_one_wins(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings
) -> None:
    head = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "price.yaml", b"0")).commit_sha

    def one(i: int) -> str:
        try:
            commit(
                stub,
                repo,
                action(A.ACTION_TYPE_UPDATE, "price.yaml", b"%d" % i),
                expected_head=head,
            )
        except grpc.RpcError as err:
            return err.code().name
        return "OK"

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(one, range(1, 11)))
    assert sorted(outcomes) == ["FAILED_PRECONDITION"] * 9 + ["OK"]
    assert_linear(repo_path(settings, repo), 2)


def _foreign_commit(path: Path, tip: str, name: str) -> str:
    """What `git` (not gitstore) would do: a commit on top of ``tip``, then move main."""
    repo = pygit2.Repository(str(path))
    parent = repo.get(tip)
    assert isinstance(parent, pygit2.Commit)
    builder = repo.TreeBuilder(parent.tree)
    builder.insert(name, repo.create_blob(b"foreign"), pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("git", "git@example.com")
    oid = repo.create_commit(None, sig, sig, "foreign", builder.write(), [parent.id])
    git(path, "update-ref", "refs/heads/main", str(oid), tip)
    return str(oid)


def test_lost_race_reapplies_on_the_new_head(
    stub: pb_grpc.GitServiceStub, repo: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = repo_path(settings, repo)
    base = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "a", b"0")).commit_sha
    real = commits.update_ref
    moved: list[str] = []

    def racing(repo_obj: pygit2.Repository, *args: object, **kwargs: object) -> None:
        if not moved:  # someone else moves main between our read and our swap
            moved.append(_foreign_commit(path, base, "foreign.txt"))
        real(repo_obj, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(commits, "update_ref", racing)
    done = commit(stub, repo, action(A.ACTION_TYPE_CREATE, "mine.txt", b"1"))
    assert done.retries == 1 and done.old_head == moved[0]
    assert git(path, "rev-parse", "main^").strip() == moved[0]
    assert sorted(git(path, "ls-tree", "--name-only", "main").split()) == [
        "a",
        "foreign.txt",
        "mine.txt",
    ]

    moved.clear()
    head = done.commit_sha
    monkeypatch.setattr(
        commits,
        "update_ref",
        lambda r, *a, **k: (moved.append(_foreign_commit(path, head, "f2")), real(r, *a, **k)),
    )
    with pytest.raises(grpc.RpcError) as info:
        commit(stub, repo, action(A.ACTION_TYPE_CREATE, "x", b"1"), expected_head=head)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert git(path, "rev-parse", "main").strip() == moved[0]


def test_aborted_after_too_many_lost_races(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RepositoryStore(tmp_path / "repos", fsync=False)
    outbox = Outbox(tmp_path / "repos" / ".outbox.sqlite3", fsync=False)
    rid = RepositoryId("acme", "r")
    store.create(rid, "main", "")
    git_settings = GitSettings(max_commit_retries=2)
    request = pb.CommitFilesRequest(
        repository_id="acme/r",
        author=AUTHOR,
        message="m",
        actions=[action(A.ACTION_TYPE_UPSERT, "a", b"1")],
    )
    first = commits.commit_files(store, outbox, git_settings, rid, request)
    path = store.locate(rid)
    real = commits.update_ref
    tips = [first.commit_sha]

    def always_loses(repo_obj: pygit2.Repository, *args: object, **kwargs: object) -> None:
        tips.append(_foreign_commit(path, tips[-1], f"f{len(tips)}"))
        real(repo_obj, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(commits, "update_ref", always_loses)
    with pytest.raises(Aborted, match="3 attempts"):
        commits.commit_files(store, outbox, git_settings, rid, request)
    assert git(path, "rev-parse", "main").strip() == tips[-1]
    assert outbox.count() == 1  # only the first commit's event; the lost attempts left nothing
    outbox.close()


def test_cas_between_processes_never_has_two_winners(tmp_path: Path) -> None:
    path = tmp_path / "race.git"
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    sig = pygit2.Signature("s", "s@example.com")
    repo.create_commit("refs/heads/main", sig, sig, "root", repo.TreeBuilder().write(), [])
    start = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.gitservice.cas_race", str(path), str(start), "40"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    start.touch()
    wins = [racer.communicate(timeout=120)[0].split() for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    won = [sha for per_process in wins for sha in per_process]
    history = git(path, "rev-list", "main").split()
    # every swap that reported success is in the history, and nothing else was added:
    # two winners from one expected head would have dropped one of them
    assert len(history) == len(won) + 1
    assert set(won) == set(history[:-1])


@pytest.mark.slow
def test_two_service_processes_on_one_data_dir_lose_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServiceProcess(data) as first, ServiceProcess(data) as second:
        channels = [grpc.insecure_channel(p.address) for p in (first, second)]
        stubs = [pb_grpc.GitServiceStub(c) for c in channels]
        stubs[0].CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/shared"))
        head = commit(
            stubs[1], "acme/shared", action(A.ACTION_TYPE_CREATE, "base", b"0")
        ).commit_sha

        def one(i: int) -> pb.CommitFilesResponse:
            return commit(
                stubs[i % 2], "acme/shared", action(A.ACTION_TYPE_CREATE, f"f{i:02d}", b"x")
            )

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(24)))

        def contender(i: int) -> str:
            try:
                commit(
                    stubs[i % 2],
                    "acme/shared",
                    action(A.ACTION_TYPE_UPSERT, "base", b"%d" % i),
                    expected_head=tip,
                )
            except grpc.RpcError as err:
                return err.code().name
            return "OK"

        tip = (
            stubs[0]
            .ResolveRevision(pb.ResolveRevisionRequest(repository_id="acme/shared"))
            .commit_sha
        )
        with ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(contender, range(6)))
        for channel in channels:
            channel.close()
    assert sorted(outcomes) == ["FAILED_PRECONDITION"] * 5 + ["OK"]
    path = data / "repos" / "acme" / "shared.git"
    shas = assert_linear(path, 26)
    assert {r.commit_sha for r in results} <= set(shas)
    assert head in shas
    names = git(path, "ls-tree", "--name-only", "main").split()
    assert sorted(names) == ["base"] + [f"f{i:02d}" for i in range(24)]
    subprocess.run(
        ["git", "--git-dir", str(path), "fsck", "--full", "--strict", "--no-dangling"], check=True
    )
