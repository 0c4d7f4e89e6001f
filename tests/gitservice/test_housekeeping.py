"""Housekeeping: heuristics, the OptimizeRepository RPC, pruning's grace period, the
background scheduler, the CLI, and writers committing while repacks and prunes run."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from gitstore.cli.main import main as cli_main
from gitstore.config import HousekeepingSettings, Settings
from gitstore.domain.identity import RepositoryId
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc
from gitstore.gitservice import housekeeping as hk
from gitstore.gitservice.server import GitServiceHandle, start_server
from tests.gitservice.helpers import A, action, commit, git, make_settings, repo_path

EAGER = pb.OPTIMIZE_STRATEGY_EAGER
HEURISTIC = pb.OPTIMIZE_STRATEGY_HEURISTIC
DAY = 86_400.0


def optimize(
    stub: pb_grpc.GitServiceStub, repo: str, strategy: int = HEURISTIC
) -> pb.OptimizeRepositoryResponse:
    request = pb.OptimizeRepositoryRequest(repository_id=repo, strategy=strategy)  # type: ignore[arg-type]
    return stub.OptimizeRepository(request)


def start(tmp_path: Path, **housekeeping: object) -> GitServiceHandle:
    extra = {f"git.housekeeping.{k}": v for k, v in housekeeping.items()}
    return start_server(make_settings(tmp_path / "data", **extra))


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[tuple[pb_grpc.GitServiceStub, Settings, str]]:
    """A service without background housekeeping, pruning anything unreachable (grace 0)."""
    settings = make_settings(
        tmp_path / "data",
        **{"git.housekeeping.enabled": False, "git.housekeeping.prune_grace_seconds": 0},
    )
    handle = start_server(settings)
    try:
        with grpc.insecure_channel(handle.address) as channel:
            stub = pb_grpc.GitServiceStub(channel)
            stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/catalog"))
            yield stub, settings, handle.address
    finally:
        handle.stop(grace=1.0)


def commits(stub: pb_grpc.GitServiceStub, repo: str, n: int, start: int = 0) -> list[str]:
    return [
        commit(
            stub, repo, action(A.ACTION_TYPE_UPSERT, f"products/p{i % 7}.yaml", b"v%d" % i)
        ).commit_sha
        for i in range(start, start + n)
    ]


# ---------------------------------------------------------------------- heuristics


def test_plan_follows_the_thresholds() -> None:
    settings = HousekeepingSettings(loose_objects_limit=100, max_packs=4)
    now = 10 * DAY
    fresh = hk.State(first_seen=now, last_full=now, last_prune=now)
    plan = hk.plan(
        hk.Stats(loose_objects=99, packs=1, has_commit_graph=True), fresh, settings, now=now
    )
    assert plan.actions == ()
    plan = hk.plan(
        hk.Stats(loose_objects=100, packs=1, has_commit_graph=True), fresh, settings, now=now
    )
    assert plan.actions == (hk.GEOMETRIC, hk.COMMIT_GRAPH) and "100 loose" in plan.reason
    plan = hk.plan(
        hk.Stats(packed_objects=9, packs=5, has_commit_graph=True), fresh, settings, now=now
    )
    assert plan.actions == (hk.GEOMETRIC, hk.COMMIT_GRAPH)
    plan = hk.plan(
        hk.Stats(packed_objects=9, packs=8, has_commit_graph=True), fresh, settings, now=now
    )
    assert plan.actions == (hk.FULL, hk.COMMIT_GRAPH)
    # a day after the last full repack, with more than one pack: full
    old_full = hk.State(first_seen=now, last_full=now - DAY, last_prune=now)
    plan = hk.plan(
        hk.Stats(packed_objects=9, packs=2, has_commit_graph=True), old_full, settings, now=now
    )
    assert plan.actions == (hk.FULL, hk.COMMIT_GRAPH)
    # a week after the last prune (or first sighting): prune, unless a push runs
    old_prune = hk.State(first_seen=now - 7 * DAY, last_full=now, last_prune=0)
    stats = hk.Stats(packed_objects=9, packs=1, has_commit_graph=True)
    assert hk.plan(stats, old_prune, settings, now=now).actions == (hk.PRUNE, hk.COMMIT_GRAPH)
    deferred = hk.plan(stats, old_prune, settings, now=now, push_running=True)
    assert deferred.actions == () and "push" in deferred.reason
    # a missing commit-graph alone
    assert hk.plan(hk.Stats(packed_objects=9, packs=1), fresh, settings, now=now).actions == (
        hk.COMMIT_GRAPH,
    )
    assert hk.plan(hk.Stats(), hk.State(), settings, now=now, eager=True).actions == ()
    eager = hk.plan(stats, fresh, settings, now=now, eager=True)
    assert eager.actions == (hk.PRUNE, hk.COMMIT_GRAPH)
    eager = hk.plan(stats, fresh, settings, now=now, eager=True, push_running=True)
    assert eager.actions == (hk.FULL, hk.COMMIT_GRAPH)


def test_a_big_pack_never_repacked_here_gets_a_full_repack() -> None:
    settings = HousekeepingSettings(big_pack_objects=1000)
    now = 10 * DAY
    never = hk.State(first_seen=now, last_full=0.0, last_prune=now)
    big = hk.Stats(packed_objects=1000, packs=1, has_commit_graph=True)
    plan = hk.plan(big, never, settings, now=now)
    assert plan.actions == (hk.FULL, hk.COMMIT_GRAPH) and "never fully repacked" in plan.reason
    assert plan.fresh_deltas and "deltas recomputed" in plan.reason
    done = hk.State(first_seen=now, last_full=now, last_prune=now)
    assert hk.plan(big, done, settings, now=now).actions == ()
    # later full repacks keep the deltas the first one computed
    many = hk.Stats(packed_objects=1000, packs=2 * settings.max_packs, has_commit_graph=True)
    later = hk.plan(many, done, settings, now=now)
    assert later.actions == (hk.FULL, hk.COMMIT_GRAPH) and not later.fresh_deltas
    small = hk.Stats(packed_objects=999, packs=1, has_commit_graph=True)
    assert hk.plan(small, never, settings, now=now).actions == ()


def _max_delta_depth(path: Path) -> int:
    (idx,) = (path / "objects" / "pack").glob("pack-*.idx")
    out = git(path, "verify-pack", "-v", str(idx))
    # "<sha> blob <size> <packed> <offset> <depth> <base>" for a delta
    depths = [int(f[5]) for f in (line.split() for line in out.splitlines()) if len(f) == 7]
    return max(depths, default=0)


def _fast_import(
    stub: pb_grpc.GitServiceStub, handle: GitServiceHandle, files: Iterator[tuple[str, str]]
) -> Path:
    """Create ``acme/catalog`` and import ``(path, text)`` files into one commit with
    ``git fast-import`` (which deltas each blob against the blob before it in the stream)."""
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/catalog"))
    path = handle.store.locate(RepositoryId.parse("acme/catalog"))
    stream = ["commit refs/heads/main", "committer A <a@x> 0 +0000", "data 2", "m"]
    for name, body in files:
        stream += [f"M 100644 inline {name}", f"data {len(body)}", body]
    subprocess.run(
        ["git", "--git-dir", str(path), "fast-import", "--quiet"],
        input="\n".join(stream) + "\n", text=True, check=True,
    )  # fmt: skip
    return path


def test_repacks_cut_delta_chains_to_the_configured_depth(tmp_path: Path) -> None:
    """A first import packed with git's deep chains (fast-import: each blob a delta of the
    one before, up to 50 deep) is repacked at once with chains of at most ``pack_depth``:
    every read of a blob walks its chain."""
    handle = start(tmp_path, enabled=False, big_pack_objects=100, pack_depth=4)
    try:
        with grpc.insecure_channel(handle.address) as channel:
            stub = pb_grpc.GitServiceStub(channel)
            base = "".join(f"line {i}: the same long product description\n" for i in range(200))
            files = ((f"products/p{n:03d}.yaml", f"{base}edit {n}\n") for n in range(150))
            path = _fast_import(stub, handle, files)
            assert _max_delta_depth(path) > 4
            answer = optimize(stub, "acme/catalog")
            assert answer.actions[0] == "full-repack", answer.reason
            assert _max_delta_depth(path) <= 4
            assert git(path, "fsck", "--no-dangling").strip() == ""
    finally:
        handle.stop(grace=1.0)


def _pack_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path / "objects" / "pack").glob("pack-*.pack"))


def test_the_first_big_repack_recomputes_poor_deltas(tmp_path: Path) -> None:
    """fast-import deltas each blob against the blob before it in its stream: two families
    of files interleaved are each a half-size delta of the other family. The first full
    repack of a big pack computes its deltas afresh (each file against its own family), so
    its pack is far smaller than a repack that reuses the imported deltas."""
    handle = start(tmp_path, enabled=False, big_pack_objects=100, pack_depth=10)
    try:
        with grpc.insecure_channel(handle.address) as channel:
            stub = pb_grpc.GitServiceStub(channel)
            common = "".join(f"common line {i}: shared by both families\n" for i in range(100))
            family = {
                f: "".join(f"{f} line {i}: only in family {f} {f * 20}\n" for i in range(100))
                for f in ("a", "b")
            }
            files = (
                (f"{f}/p{n:03d}.yaml", f"{common}{family[f]}edit {n}\n")
                for n in range(120)
                for f in ("a", "b")
            )
            path = _fast_import(stub, handle, files)
            reused = tmp_path / "reused.git"
            shutil.copytree(path, reused)
            git(reused, "repack", "-a", "-d", "-q", "--depth=10")  # deltas reused
            answer = optimize(stub, "acme/catalog")
            assert answer.actions[0] == "full-repack" and "recomputed" in answer.reason
            assert _pack_bytes(path) < 0.6 * _pack_bytes(reused), (
                _pack_bytes(path), _pack_bytes(reused),
            )  # fmt: skip
            assert git(path, "fsck", "--no-dangling").strip() == ""
    finally:
        handle.stop(grace=1.0)


# ---------------------------------------------------------------------- the RPC


def test_optimize_repacks_and_reports(quiet: tuple[pb_grpc.GitServiceStub, Settings, str]) -> None:
    stub, settings, _ = quiet
    shas = commits(stub, "acme/catalog", 30)
    first = optimize(stub, "acme/catalog")  # loose objects < 1024, but no commit-graph yet
    assert first.actions == ["commit-graph"] and first.before.loose_objects >= 90
    eager = optimize(stub, "acme/catalog", EAGER)
    assert eager.actions == ["prune", "commit-graph"]
    assert eager.before.loose_objects >= 90 and eager.after.loose_objects == 0
    assert eager.after.packs == 1 and eager.after.has_bitmap and eager.after.has_commit_graph
    assert eager.after.pack_bytes < eager.before.loose_bytes
    path = repo_path(settings, "acme/catalog")
    git(path, "fsck", "--full", "--strict")
    assert git(path, "rev-list", "main").split() == shas[::-1]
    again = optimize(stub, "acme/catalog")
    assert again.actions == [] and again.reason == "nothing due"
    # reads through the service still work on the packed repository
    blobs = list(
        stub.GetBlobs(pb.GetBlobsRequest(repository_id="acme/catalog", paths=["products/p1.yaml"]))
    )
    assert blobs[0].content == b"v29"


def test_optimize_errors(quiet: tuple[pb_grpc.GitServiceStub, Settings, str]) -> None:
    stub, _, _ = quiet
    with pytest.raises(grpc.RpcError) as info:
        optimize(stub, "acme/missing")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        optimize(stub, "Acme/x")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_second_optimisation_of_a_repository_is_skipped(
    quiet: tuple[pb_grpc.GitServiceStub, Settings, str],
) -> None:
    stub, settings, _ = quiet
    commits(stub, "acme/catalog", 3)
    fd = hk.try_flock(repo_path(settings, "acme/catalog") / hk.LOCK_FILE)
    assert fd is not None
    try:
        answer = optimize(stub, "acme/catalog", EAGER)
    finally:
        os.close(fd)
    assert answer.skipped and answer.actions == []


def test_prune_keeps_unreachable_objects_for_the_grace_period(tmp_path: Path) -> None:
    handle = start(tmp_path, enabled=False)  # default grace: two weeks
    try:
        with grpc.insecure_channel(handle.address) as channel:
            stub = pb_grpc.GitServiceStub(channel)
            stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/catalog"))
            commits(stub, "acme/catalog", 2)
            side = commit(
                stub, "acme/catalog", action(A.ACTION_TYPE_CREATE, "side.yaml", b"only here"),
                branch="side", start_revision="main",
            )  # fmt: skip
            stub.DeleteBranch(pb.DeleteBranchRequest(repository_id="acme/catalog", branch="side"))
            assert optimize(stub, "acme/catalog", EAGER).actions == ["prune", "commit-graph"]
            path = handle.store.locate(RepositoryId.parse("acme/catalog"))
            assert git(path, "cat-file", "-t", side.commit_sha).strip() == "commit"
            # a quarantine of a running push puts the prune off
            quarantine = path / "objects" / "tmp_objdir-incoming-test"
            quarantine.mkdir()
            answer = optimize(stub, "acme/catalog", EAGER)
            assert answer.actions == ["full-repack", "commit-graph"] and "push" in answer.reason
            assert quarantine.is_dir()
    finally:
        handle.stop(grace=1.0)


def test_prune_drops_unreachable_objects_after_the_grace_period(
    quiet: tuple[pb_grpc.GitServiceStub, Settings, str],
) -> None:
    stub, settings, _ = quiet
    commits(stub, "acme/catalog", 2)
    side = commit(
        stub, "acme/catalog", action(A.ACTION_TYPE_CREATE, "side.yaml", b"only here"),
        branch="side", start_revision="main",
    )  # fmt: skip
    stub.DeleteBranch(pb.DeleteBranchRequest(repository_id="acme/catalog", branch="side"))
    optimize(stub, "acme/catalog", EAGER)
    path = repo_path(settings, "acme/catalog")
    found = subprocess.run(
        ["git", "--git-dir", str(path), "cat-file", "-e", side.commit_sha], check=False
    )
    assert found.returncode != 0  # gone
    git(path, "fsck", "--full", "--strict")


# ---------------------------------------------------------------------- background


def test_writes_schedule_housekeeping_in_the_background(tmp_path: Path) -> None:
    handle = start(tmp_path, debounce_seconds=0, loose_objects_limit=20)
    try:
        with grpc.insecure_channel(handle.address) as channel:
            stub = pb_grpc.GitServiceStub(channel)
            stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/catalog"))
            shas = commits(stub, "acme/catalog", 12)
            assert handle.scheduler is not None
            deadline = time.monotonic() + 120
            path = handle.store.locate(RepositoryId.parse("acme/catalog"))
            while time.monotonic() < deadline:
                stats = hk.measure(path)
                if handle.scheduler.pending() == 0 and stats.packs and stats.has_commit_graph:
                    break
                time.sleep(0.05)
            stats = hk.measure(path)
            assert stats.packs >= 1 and stats.has_commit_graph
            assert stats.loose_objects < 20
            assert git(path, "rev-list", "main").split() == shas[::-1]
            assert handle.scheduler.metrics.runs.labels("optimized")._value.get() >= 1
    finally:
        handle.stop(grace=1.0)


# ---------------------------------------------------------------------- concurrent writers


def test_concurrent_commits_during_repacks_and_prunes_lose_nothing(
    quiet: tuple[pb_grpc.GitServiceStub, Settings, str],
) -> None:
    """8 writer threads commit through the real service while another thread optimises the
    repository over and over (eager: full repack and prune with grace 0, and heuristic with
    geometric repacks), and a reader reads. Every acknowledged commit must be reachable,
    each file must hold its writer's last acknowledged content, ``git fsck --full`` clean."""
    stub, settings, _ = quiet
    repo = "acme/catalog"
    commit(stub, repo, action(A.ACTION_TYPE_CREATE, "base.yaml", b"base"))
    writers, per_writer = 8, 25
    stop = threading.Event()
    acked: dict[int, list[tuple[str, bytes]]] = {w: [] for w in range(writers)}
    runs: list[list[str]] = []
    read_errors: list[BaseException] = []

    def write(w: int) -> None:
        for i in range(per_writer):
            content = b"writer %d rev %d" % (w, i)
            response = commit(
                stub, repo, action(A.ACTION_TYPE_UPSERT, f"products/w{w}.yaml", content)
            )
            acked[w].append((response.commit_sha, content))

    def housekeep() -> None:
        strategies = [EAGER, HEURISTIC]
        while not stop.is_set():
            runs.append(list(optimize(stub, repo, strategies[len(runs) % 2]).actions))

    def read() -> None:
        while not stop.is_set():
            try:
                request = pb.GetBlobsRequest(repository_id=repo, paths=["base.yaml"])
                [blob] = list(stub.GetBlobs(request))
                assert blob.content == b"base"
            except BaseException as exc:
                read_errors.append(exc)
                return

    with ThreadPoolExecutor(writers + 2) as pool:
        background = [pool.submit(housekeep), pool.submit(read)]
        done = [pool.submit(write, w) for w in range(writers)]
        for future in done:
            future.result()
        stop.set()
        for future in background:
            future.result()
    assert not read_errors
    assert any("prune" in r for r in runs)
    final = optimize(stub, repo, EAGER)
    assert final.after.loose_objects == 0
    path = repo_path(settings, repo)
    git(path, "fsck", "--full", "--strict")
    history = set(git(path, "rev-list", "main").split())
    assert len(history) == 1 + writers * per_writer
    for w, entries in acked.items():
        assert all(sha in history for sha, _ in entries)
        assert git(path, "show", f"main:products/w{w}.yaml").encode() == entries[-1][1]


# ---------------------------------------------------------------------- CLI


def test_cli_repo_optimize(
    quiet: tuple[pb_grpc.GitServiceStub, Settings, str], capsys: pytest.CaptureFixture[str]
) -> None:
    stub, _, address = quiet
    stub.CreateRepository(pb.CreateRepositoryRequest(repository_id="acme/other"))
    commits(stub, "acme/catalog", 5)
    uri = ["--git-grpc-uri", address]
    assert cli_main(["repo", "optimize", "acme/catalog", "--eager", *uri]) == 0
    out = capsys.readouterr().out
    assert out.startswith("acme/catalog: prune, commit-graph in ") and "packs 0 -> 1" in out
    assert cli_main(["repo", "optimize", "--all", "--json", *uri]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split('"')[3] for line in lines] == ["acme/catalog", "acme/other"]
    assert cli_main(["repo", "optimize", "acme/nope", *uri]) == 1
    assert "acme/nope: failed:" in capsys.readouterr().out
    assert cli_main(["repo", "optimize", *uri]) == 2
