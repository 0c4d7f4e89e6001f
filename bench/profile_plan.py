"""A/B: the worker's CPU per path to plan a first projection (``plan_changes`` from nothing).

Not a ``bench_*.py`` (the runner does not pick it up): a tool for issue 16, where the plan
runs on the event loop before the chunk pipeline starts, so its time is added in full to
every first projection.

A bare repository ``bench/catalog`` of ``--count`` products (bench_catalog's, fan-out paths,
``_products.py``) is built once with ``git fast-import`` and served by one ``gitstore
git-service`` subprocess. Then each ``src`` given (``--src A=path B=path``; default: this
checkout's) plans it in a child process of its own, alternated A B, B A, A B ...
(``--rounds``): the child times ``plan_changes(base=None)`` ``--repeat`` times with
``time.process_time`` (its own CPU, gRPC threads included) and keeps the best. ``--gc-gen0
N`` runs the plan with the young collector threshold the projector uses
(``gcpace.fewer_collections``; 0: CPython's default).

    git archive main src | tar -x -C /tmp/main      # A: main's src, frozen
    .venv/bin/python bench/profile_plan.py --count 20000 --src A=/tmp/main/src B=src
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


async def _child(address: str, count: int, repeat: int, gen0: int) -> None:
    from gitstore.domain.content import KindRegistry
    from gitstore.gcpace import fewer_collections
    from gitstore.git.client import GitClient
    from gitstore.worker.changes import plan_changes

    registry = KindRegistry.builtin()
    cpu: list[float] = []
    wall: list[float] = []
    async with GitClient(address, timeout=600) as git:
        target = (await git.resolve_revision("bench/catalog", "HEAD")).commit_sha
        for _ in range(repeat):
            gc_pace = fewer_collections(gen0) if gen0 else contextlib.nullcontext()
            started, used = time.perf_counter(), time.process_time()
            with gc_pace:
                plan = await plan_changes(
                    git, "bench/catalog", base=None, target=target, registry=registry
                )
            cpu.append(time.process_time() - used)
            wall.append(time.perf_counter() - started)
            if len(plan.upserts) != count or plan.conflicts:
                raise SystemExit(f"unexpected plan: {len(plan.upserts)} upserts")
    print(f"{min(cpu) / count * 1e6:.2f} {min(wall) / count * 1e6:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--src", nargs="+", default=[f"B={Path('src').resolve()}"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--gc-gen0", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the git service's address
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child, args.count, args.repeat, args.gc_gen0))
        return

    import _products
    from _service import GitServiceProcess
    from profile_projection import build_repo

    sides = dict(s.split("=", 1) for s in args.src)
    with tempfile.TemporaryDirectory() as tmp:
        repos = Path(tmp) / "repos"
        (repos / "bench").mkdir(parents=True)
        entries = (
            (_products.product_path(i), _products.product_yaml(i)) for i in range(args.count)
        )
        build_repo(repos / "bench" / "catalog.git", entries)
        service = GitServiceProcess(Path(tmp), repos)
        service.start(["bench/catalog"])
        best: dict[str, float] = {}
        try:
            for round_ in range(args.rounds):
                order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                for side in order:
                    command = [sys.executable, __file__, "--child", service.address]
                    command += ["--count", str(args.count), "--repeat", str(args.repeat)]
                    command += ["--gc-gen0", str(args.gc_gen0)]
                    env = {**os.environ, "PYTHONPATH": os.path.abspath(sides[side])}
                    out = subprocess.run(command, env=env, capture_output=True, text=True)
                    if out.returncode:
                        raise SystemExit(out.stderr)
                    cpu, wall = map(float, out.stdout.split())
                    best[side] = min(best.get(side, cpu), cpu)
                    print(f"round {round_} {side}: cpu {cpu:.2f} wall {wall:.2f} µs/path")
        finally:
            service.stop()
    summary = ", ".join(f"{side} {cpu:.2f}" for side, cpu in best.items())
    print(f"count {args.count}, gc_gen0 {args.gc_gen0 or 'default'}: best cpu µs/path {summary}")


if __name__ == "__main__":
    main()
