"""Benchmark: concurrent catalogue writers on distinct products through one real server.

One ``gitstore serve`` subprocess (embedded backends, git fsync on: the defaults). Every
writer is a thread with its own keep-alive HTTP connection that upserts *its own* product
(``upsertProduct``, a new title each time, no ``waitForIndex``) back to back for
``--seconds``. Two phases, interleaved over ``--rounds`` rounds:

* the floor: **one writer**, commits/s through the same API, same repository;
* **20 writers** (``--writers``) at once, each on a distinct product: commits/s, and the
  **refusal rate** — requests answered with anything but a commit (``ABORTED`` "kept
  moving", ``CONFLICT``, any user error or GraphQL error) over all requests.

Afterwards the branch is checked: one line of history (no merges), exactly one commit per
acknowledged write (+ setup), and every product's file holds the title its writer was last
acknowledged for (no lost update).

Targets: refusal rate 0 %; 20 writers commit at least as many commits/s as one (they share
the same serialised git commit path, so concurrency must not cost throughput).
Last line of stdout: the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _products import path_of
from _serve import Http, ServeProcess, create_admin, create_repository, login
from _util import summarize

REPOSITORY = "bench/writers"
UPSERT = """
mutation($i: UpsertProductInput!) {
  upsertProduct(input: $i) { commit committed userErrors { field message code } }
}"""


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    commits: int = 0
    refused: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    last_title: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, reason: str) -> None:
        with self.lock:
            self.refused += 1
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


def spec(title: str) -> dict[str, Any]:
    return {"title": title, "status": "active", "price": {"amount": "19.99", "currency": "EUR"}}


def writer(
    port: int, token: str, name: str, deadline: list[float], start: threading.Barrier, tally: Tally
) -> None:
    http = Http(port, token)
    version = 0
    try:
        start.wait()  # its action sets deadline[0], the same for every writer
        while time.monotonic() < deadline[0]:
            version += 1
            title = f"{name} v{version}"
            variables = {"i": {"repository": REPOSITORY, "name": name, "spec": spec(title)}}
            began = time.perf_counter()
            try:
                payload = http.graphql(UPSERT, variables)["upsertProduct"]
            except RuntimeError as exc:  # a GraphQL error (UNAVAILABLE, ...)
                tally.refuse(str(exc)[:80])
                continue
            elapsed = (time.perf_counter() - began) * 1000
            if payload["userErrors"] or not payload["committed"]:
                errors = payload["userErrors"]
                tally.refuse(errors[0]["code"] if errors else "not committed")
                continue
            with tally.lock:
                tally.commits += 1
                tally.latencies_ms.append(elapsed)
                tally.last_title[name] = title
    finally:
        http.close()


def phase(port: int, token: str, names: list[str], seconds: float, tally: Tally) -> float:
    """Run one writer per name for ``seconds``; the phase's commits/s."""
    deadline: list[float] = []
    began: list[float] = []

    def go() -> None:
        began.append(time.monotonic())
        deadline.append(began[0] + seconds)

    start = threading.Barrier(len(names), action=go)
    before = tally.commits
    threads = [
        threading.Thread(target=writer, args=(port, token, n, deadline, start, tally))
        for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (tally.commits - before) / (time.monotonic() - began[0])


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def verify(server: ServeProcess, tallies: list[Tally], setup_commits: int) -> dict[str, Any]:
    repo = server.repo_dir(REPOSITORY)
    parents = git(repo, "rev-list", "--parents", "refs/heads/main").splitlines()
    acknowledged = sum(t.commits for t in tallies)
    lost = []
    last: dict[str, str] = {}
    for tally in tallies:  # phases run one after another: later tallies win
        last.update(tally.last_title)
    for name, title in last.items():
        # where the product put the file (new repositories fan out: docs/content-model.md)
        content = git(repo, "show", f"refs/heads/main:{path_of('Product', name)}")
        if f"title: {title}\n" not in content:
            lost.append(name)
    return {
        "linear": all(len(line.split()) <= 2 for line in parents),
        "commits_on_branch": len(parents),
        "commits_expected": acknowledged + setup_commits,
        "lost_updates": lost,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases, for a smoke test")
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, help="length of each phase (10; quick: 3)")
    parser.add_argument("--rounds", type=int, help="rounds of (1 writer, N writers) (3; quick: 1)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="gitstore-bench-writers-"))
    server = ServeProcess(scratch, {})
    try:
        create_admin(server)
        server.start()
        token = login(server.api_port)
        create_repository(server.api_port, token, REPOSITORY)
        names = [f"w-{i:02d}" for i in range(args.writers)]
        seed = Http(server.api_port, token)
        for name in ["solo", *names]:  # every product exists: both phases edit
            seed.graphql(
                UPSERT, {"i": {"repository": REPOSITORY, "name": name, "spec": spec(f"{name} v0")}}
            )
        seed.close()
        setup_commits = 1 + len(names)
        single, many = Tally(), Tally()
        single_rates, many_rates = [], []
        for number in range(args.rounds):
            single_rates.append(phase(server.api_port, token, ["solo"], args.seconds, single))
            many_rates.append(phase(server.api_port, token, names, args.seconds, many))
            print(
                f"round {number + 1}: 1 writer {single_rates[-1]:.1f} commits/s,"
                f" {args.writers} writers {many_rates[-1]:.1f} commits/s,"
                f" refused so far {many.refused}",
                file=sys.stderr,
            )
        checks = verify(server, [single, many], setup_commits)
    except BaseException:
        print(f"server log tail:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
        if args.keep:
            print(f"scratch directory kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    requests = many.commits + many.refused
    refusal_rate = many.refused / requests if requests else 0.0
    single_cps = sum(single_rates) / len(single_rates)
    many_cps = sum(many_rates) / len(many_rates)
    correct = (
        checks["linear"]
        and checks["commits_on_branch"] == checks["commits_expected"]
        and not checks["lost_updates"]
    )
    targets = {
        "refusal_rate": {"value": refusal_rate, "limit": 0.0, "met": refusal_rate == 0.0},
        "speedup_vs_one_writer": {
            "value": round(many_cps / single_cps, 2) if single_cps else None,
            "limit": 1.0,
            "met": bool(single_cps) and many_cps >= single_cps,
        },
        "history_correct": {"value": correct, "limit": True, "met": correct},
    }
    figures = {
        "benchmark": "writers",
        "writers": args.writers,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "one_writer_commits_per_s": round(single_cps, 2),
        "many_writers_commits_per_s": round(many_cps, 2),
        "one_writer_latency_ms": summarize(single.latencies_ms),
        "many_writers_latency_ms": summarize(many.latencies_ms),
        "many_writers_requests": requests,
        "many_writers_refused": many.refused,
        "refusal_rate": refusal_rate,
        "refusal_reasons": many.reasons,
        "one_writer_refused": single.refused,
        "checks": checks,
        "targets": targets,
        "target_met": all(t["met"] for t in targets.values()),
        "python": platform.python_version(),
    }
    print(
        f"{args.writers} writers on distinct products: {many_cps:.1f} commits/s vs one writer"
        f" {single_cps:.1f} commits/s; refused {many.refused}/{requests}"
    )
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
