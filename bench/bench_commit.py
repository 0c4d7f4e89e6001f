"""Benchmark: one-product commits on catalogues of 1,000 / 10,000 / 100,000 products, and
how much the repository grows from 1,000 of them, before and after housekeeping.

Repositories hold real product manifests (``_products``: what ``upsertProduct`` writes) at
the paths the content model's ``path_for`` gives, built in-process with pygit2 tree
building (``_pygit2_fixture``) and cached. A real ``gitstore git-service`` subprocess serves
copies of them, with background housekeeping off so that "before" means before.

(1) latency: ``CommitFiles`` (one UPSERT of a random product, new price/inventory/description)
    at each size, and the floor (b): the same tree edit with pygit2 in-process on the largest,
    in interleaved rounds (shuffled per round) after a warm-up. Target: p50(largest) /
    p50(smallest) <= 1.5 (judged at 100,000 vs 1,000 only).
(2) growth: ``--growth-commits`` (1,000) one-product commits at the largest size through the
    service; repository bytes (every file under ``objects/``) before housekeeping, after a
    heuristic ``OptimizeRepository`` (what the service schedules after writes) and after an
    eager one (full repack, prune, commit-graph, bitmap). The floor: a copy of the same
    repository (the same commits: the same 1,000 changes) after ``git gc --prune=now``.
    Target: floor / ours (eager) >= 0.5.
Throughput of 20 concurrent writers vs one is ``bench_writers.py`` (a real ``serve``).
Last line of stdout: the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import _catalog
import _products
import _pygit2_fixture
import grpc
from _committers import GrpcCommitter, Pygit2Committer
from _service import GitServiceProcess
from _util import Progress, summarize, timed_ms

from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc

NAMESPACE = "bench"
FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 3_000, 10_000)


class Committer(Protocol):
    def commit(self, path: str, content: bytes) -> None: ...


class Subject:
    """One way of committing, on one repository, with its own random product picker."""

    def __init__(self, key: str, committer: Committer, products: int, seed: int) -> None:
        self.key = key
        self.committer = committer
        self.products = products
        self.random = random.Random(seed)
        self.commits = 0
        self.samples: list[float] = []

    def step(self, record: bool) -> None:
        index = self.random.randrange(self.products)
        self.commits += 1
        path = _products.product_path(index)
        content = _products.product_yaml(index, self.commits)
        elapsed = timed_ms(lambda: self.committer.commit(path, content))
        if record:
            self.samples.append(elapsed)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--sizes", help="comma-separated product counts (1000,10000,100000)")
    parser.add_argument("--iterations", type=int, help="measured commits per size (100)")
    parser.add_argument("--warmup", type=int, help="unmeasured commits per size first (10)")
    parser.add_argument("--growth-commits", type=int, help="commits of the growth phase (1000)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = QUICK_SIZES if quick else FULL_SIZES
    args.sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else sizes
    for name, value in {
        "iterations": 20 if quick else 100,
        "warmup": 3 if quick else 10,
        "growth_commits": 100 if quick else 1000,
    }.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def run_rounds(subjects: list[Subject], rounds: int, record: bool, label: str) -> None:
    progress = Progress(label)
    shuffler = random.Random(len(label))
    for done in range(rounds):
        order = list(subjects)
        shuffler.shuffle(order)
        for subject in order:
            subject.step(record)
        progress(done + 1, rounds)


def commit_count(repo: Path) -> int:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-list", "--count", "refs/heads/main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out)


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 2) if denominator else float("inf")


def machine(load_at_start: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in load_at_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
        "sample_path": _products.product_path(0),
    }


def optimize(channel: grpc.Channel, repo_id: str, eager: bool) -> dict[str, Any]:
    stub = pb_grpc.GitServiceStub(channel)
    strategy = pb.OPTIMIZE_STRATEGY_EAGER if eager else pb.OPTIMIZE_STRATEGY_HEURISTIC
    request = pb.OptimizeRepositoryRequest(repository_id=repo_id, strategy=strategy)
    answer = stub.OptimizeRepository(request, timeout=7200)
    return {
        "actions": list(answer.actions),
        "reason": answer.reason,
        "seconds": round(answer.seconds, 2),
        "packs_after": answer.after.packs,
        "loose_after": answer.after.loose_objects,
    }


def growth(
    channel: grpc.Channel, repo_id: str, path: Path, products: int, args: argparse.Namespace
) -> dict[str, Any]:
    subject = Subject("growth", GrpcCommitter(channel, repo_id), products, args.seed + 1)
    start_bytes = _pygit2_fixture.repo_bytes(path)
    run_rounds([subject], args.growth_commits, record=True, label="growth commits")
    before = _pygit2_fixture.repo_bytes(path)
    heuristic = optimize(channel, repo_id, eager=False)
    after_heuristic = _pygit2_fixture.repo_bytes(path)
    eager = optimize(channel, repo_id, eager=True)
    after = _pygit2_fixture.repo_bytes(path)
    floor_path = path.parent / "floor-gc.git"
    shutil.copytree(path, floor_path)
    started = time.monotonic()
    subprocess.run(["git", "--git-dir", str(floor_path), "gc", "--prune=now", "-q"], check=True)
    floor_seconds = time.monotonic() - started
    floor = _pygit2_fixture.repo_bytes(floor_path)
    return {
        "products": products,
        "commits": subject.commits,
        "commit_latency": summarize(subject.samples),
        "bytes_fixture": start_bytes,
        "bytes_before_housekeeping": before,
        "bytes_after_heuristic": after_heuristic,
        "bytes_after_eager": after,
        "bytes_floor_git_gc": floor,
        "floor_git_gc_seconds": round(floor_seconds, 1),
        "heuristic": heuristic,
        "eager": eager,
        "ratio_floor_over_before": ratio(floor, before),
        "ratio_floor_over_after": ratio(floor, after),
    }


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    sizes: tuple[int, ...] = args.sizes
    largest = max(sizes)
    sources = {n: _pygit2_fixture.cached(n, Progress(f"fixture: {n} products")) for n in sizes}
    repos = scratch / "repos"
    ids = {n: f"{NAMESPACE}/catalog-{n}" for n in sizes}
    paths = {n: _catalog.copy_repo(sources[n], repos / f"{ids[n]}.git") for n in sizes}
    growth_id = f"{NAMESPACE}/growth-{largest}"
    growth_path = _catalog.copy_repo(sources[largest], repos / f"{growth_id}.git")
    floor_path = _catalog.copy_repo(sources[largest], scratch / "pygit2.git")
    base = {n: commit_count(p) for n, p in paths.items()}
    env = {"GITSTORE_GIT__HOUSEKEEPING__ENABLED": "false"}
    with GitServiceProcess(scratch, repos, extra_env=env) as service:
        try:
            channel = service.start([*ids.values(), growth_id])
            subjects = [
                Subject(f"a_{n}", GrpcCommitter(channel, ids[n]), n, args.seed) for n in sizes
            ]
            b = Subject("b", Pygit2Committer(floor_path), largest, args.seed)
            everyone = [*subjects, b]
            run_rounds(everyone, args.warmup, record=False, label="warm-up")
            run_rounds(everyone, args.iterations, record=True, label="latency")
            grown = growth(channel, growth_id, growth_path, largest, args)
        except Exception:
            print(f"service log tail:\n{service.log_tail()}", file=sys.stderr)
            raise
    for subject, n in zip(subjects, sizes, strict=True):
        found, expected = commit_count(paths[n]), base[n] + subject.commits
        if found != expected:
            raise RuntimeError(f"{n}: branch holds {found} commits, expected {expected}")
    check = subprocess.run(
        ["git", "--git-dir", str(growth_path), "fsck", "--full", "--no-dangling"],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise RuntimeError(f"git fsck of the optimised repository failed:\n{check.stderr}")
    latency = {s.key: summarize(s.samples) for s in everyone}
    return {"latency": latency, "growth": grown}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_at_start = os.getloadavg()
    _catalog.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="run-commit-", dir=_catalog.CACHE_DIR))
    try:
        result = measure(args, scratch)
    finally:
        if args.keep:
            print(f"scratch directory kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    sizes: tuple[int, ...] = args.sizes
    latency, grown = result["latency"], result["growth"]
    small, large = min(sizes), max(sizes)
    p50 = {key: float(s["p50_ms"]) for key, s in latency.items()}
    large_over_small = ratio(p50[f"a_{large}"], p50[f"a_{small}"])
    storage = grown["ratio_floor_over_after"]
    targets = {
        "latency_large_within_1_5x_of_small": {
            "value": large_over_small,
            "limit": "<= 1.5",
            "met": large_over_small <= 1.5,
        },
        "floor_over_ours_bytes_at_least_0_5": {
            "value": storage,
            "limit": ">= 0.5",
            "met": storage >= 0.5,
        },
    }
    judged = sizes == FULL_SIZES and args.growth_commits == 1000
    all_met = all(bool(t["met"]) for t in targets.values()) if judged else None
    print(f"one-product commit, fsync on  ({time.monotonic() - started:.0f}s)")
    print(f"{'':44} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}")
    for n in sizes:
        s = latency[f"a_{n}"]
        label = f"(a) gRPC CommitFiles, {n} products"
        print(f"{label:44} {s['n']:>5} {s['p50_ms']:>9.2f} {s['p99_ms']:>9.2f}")
    s = latency["b"]
    label = f"(b) pygit2 in-process, {large} products"
    print(f"{label:44} {s['n']:>5} {s['p50_ms']:>9.2f} {s['p99_ms']:>9.2f}")
    mib = 1024 * 1024
    print(f"repository bytes after {grown['commits']} commits at {large} products:")
    for key in ("bytes_fixture", "bytes_before_housekeeping", "bytes_after_heuristic",
                "bytes_after_eager", "bytes_floor_git_gc"):  # fmt: skip
        print(f"  {key:30} {grown[key] / mib:>10.1f} MiB")
    for name, target in targets.items():
        verdict = "met" if target["met"] else "MISSED"
        print(f"{name:36} {target['value']:>8} (target {target['limit']}) {verdict}")
    if not judged:
        print(f"targets not judged: they apply to sizes {FULL_SIZES} and 1000 growth commits")
    figures = {
        "benchmark": "commit",
        "sizes": list(sizes),
        "quick": args.quick,
        "latency": latency,
        "ratio_latency_large_over_small": large_over_small,
        "ratio_a_large_over_b": ratio(p50[f"a_{large}"], p50["b"]),
        "growth": grown,
        "writers": "bench_writers.py (20 concurrent writers vs one, through a real serve)",
        "targets": targets,
        "target_met": all_met,
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine(load_at_start),
    }
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
