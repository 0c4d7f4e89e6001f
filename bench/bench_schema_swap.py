"""Benchmark: storefront latency on a store endpoint while its schema is swapped again and again.

Two deployments, one after the other (``--deployment both``, the default; or ``serve`` /
``split`` alone): one ``gitstore serve`` subprocess (embedded backends, the defaults: git
service, API and worker on one event loop), and the split deployment (``_split``:
``gitstore git-service``, ``gitstore api`` and ``gitstore worker`` as three processes on the
same kind of embedded backends, shared through the data dir), the storefront querying the API
process. Each has a PUBLIC, ON_COMMIT repository holding ``--products`` products. A storefront query
(``{ catalog { products(first: 10) { totalCount nodes { name title } } } }``, anonymous,
LIVE) is sent to ``/<namespace>/<repo>/graphql`` over ``--concurrency`` keep-alive
connections by the raw-socket load generator (``_httpload``), ``--requests`` requests per
phase, in three phases interleaved over ``--rounds`` rounds:

* **steady** — nothing else happens: the floor;
* **writes** — a writer thread commits a product upsert through the same store endpoint
  (``upsertProduct``) every ``--interval`` s (0.25): the cost of commits and projection
  alone, reported;
* **swaps** — the writer commits a ``KindDefinition`` change instead (``applyManifests``) at
  the same pace, each
  with a field of a new name, so every commit is a new fingerprint: a candidate schema is built,
  validated and swapped in (the write waits for it), and the next storefront requests meet a
  new schema with a cold document cache.

Figures: p50/p99 per phase, swaps done (distinct fingerprints seen by ``schemaStatus``), and the
ratio of p99 during swaps to steady p99. Target: at most 2x. Also the server process's CPU time
per phase (``/proc/<pid>/stat``, all its threads): per storefront request in the steady phase,
and per commit in the others (the phase's CPU less its requests at the steady rate, divided by
its commits) — on a loaded shared machine these move far less than latency percentiles, so
they are what an A/B of the commit path compares; in the split deployment per process. Last
line of stdout: one JSON object with both deployments' figures (``deployments``) and their
ratios at the top (``serve_p99_swaps_vs_steady``, ``split_p99_swaps_vs_steady``); the target
is met when it is met in each deployment measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from _httpload import Client, request_bytes
from _serve import Http, ServeProcess, create_admin, create_repository, login
from _split import SplitProcesses
from _util import summarize

REPOSITORY = "bench-swap/catalog"
TARGET = 2.0
STOREFRONT = "{ catalog { products(first: 10) { totalCount nodes { name title } } } }"
APPLY = """mutation($i: ApplyManifestsInput!) { applyManifests(input: $i) {
  committed userErrors { field message code } } }"""
UPSERT = """mutation($i: UpsertProductInput!) { upsertProduct(input: $i) {
  committed userErrors { field message code } } }"""
STATUS = "{ schemaStatus { fingerprint } }"


def product(name: str, title: str) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": {"title": title, "status": "active"},
    }


def brand_kind(extra: str) -> dict[str, Any]:
    """``Brand`` with ``title`` and one more field named ``extra`` (a new fingerprint each)."""
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, extra: {"type": "string"}},
    }
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": "brands"},
        "spec": {
            "group": "acme.example",
            "names": {"kind": "Brand", "plural": "brands", "singular": "brand"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
        },
    }


class Store(Http):
    """``Http`` posting to the store endpoint."""

    def call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.ensure_fresh()
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        status, raw = self.post(f"/{REPOSITORY}/graphql", body)
        answer: dict[str, Any] = json.loads(raw)
        if status != 200 or answer.get("errors"):
            raise RuntimeError(f"store endpoint HTTP {status}: {raw[:500]!r}")
        (payload,) = answer["data"].values()
        if isinstance(payload, dict) and payload.get("userErrors"):
            raise RuntimeError(f"refused: {payload['userErrors']}")
        result: dict[str, Any] = payload
        return result


class Writer(threading.Thread):
    """Commits back to back until stopped: kind changes (``swaps``) or product upserts."""

    def __init__(self, port: int, token: str, swaps: bool, start_at: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.store = Store(port, token)
        self.swaps = swaps
        self.number = start_at
        self.stop = threading.Event()
        self.commits = 0
        self.fingerprints: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.number += 1
                if self.swaps:
                    kind = brand_kind(f"field{self.number}")
                    self.store.call(APPLY, {"i": {"manifests": [{"manifest": kind}]}})
                    fingerprint = self.store.call(STATUS)["fingerprint"]
                    self.fingerprints.add(str(fingerprint))
                else:
                    spec = {"title": f"Title {self.number}", "status": "ACTIVE"}
                    self.store.call(UPSERT, {"i": {"name": "p-0000", **spec}})
                self.commits += 1
                self.stop.wait(self.interval)
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self.store.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(
    client: Client, request: bytes, total: int, writer: Writer | None
) -> tuple[list[float], Writer | None]:
    if writer is not None:
        writer.start()
    try:
        _, latencies = client.run(request, total, b'"totalCount"')
    finally:
        if writer is not None:
            writer.stop.set()
            writer.join(timeout=120)
    if writer is not None and writer.error is not None:
        raise RuntimeError(f"writer failed: {writer.error}") from writer.error
    return latencies, writer


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small phases, for a smoke test")
    parser.add_argument(
        "--requests", type=int, help="storefront requests per phase (3000; quick: 600)"
    )
    parser.add_argument("--rounds", type=int, help="rounds of the three phases (3; quick: 1)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--interval", type=float, default=0.25, help="seconds between the writer's commits"
    )
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--deployment",
        choices=("both", "serve", "split"),
        default="both",
        help="serve: one `gitstore serve`; split: git-service + api + worker processes;"
        " both (default): serve, then split, one JSON line with both",
    )
    args = parser.parse_args(argv)
    args.requests = args.requests or (600 if args.quick else 3000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


def launch(deployment: str, scratch: Path) -> ServeProcess | SplitProcesses:
    if deployment == "split":
        return SplitProcesses(scratch, {})
    return ServeProcess(scratch, {})


def process_ids(server: ServeProcess | SplitProcesses) -> dict[str, int]:
    """The server's processes by name: ``serve`` alone, or the split deployment's three."""
    if isinstance(server, SplitProcesses):
        return server.pids
    assert server.proc is not None
    return {"serve": server.proc.pid}


def measure(deployment: str, args: argparse.Namespace) -> dict[str, Any]:
    """The three phases against one deployment (``serve`` or ``split``); its figures."""
    scratch = Path(tempfile.mkdtemp(prefix=f"gitstore-bench-swap-{deployment}-"))
    server = launch(deployment, scratch)
    steady: list[float] = []
    writes: list[float] = []
    swaps: list[float] = []
    swap_commits = write_commits = 0
    cpu: dict[str, dict[str, float]] = {}
    fingerprints: set[str] = set()
    try:
        create_admin(server)
        server.start()
        token = login(server.api_port)
        create_repository(server.api_port, token, REPOSITORY)
        seed = Store(server.api_port, token)
        manifests = [
            {"manifest": product(f"p-{i:04d}", f"Product {i}")} for i in range(args.products)
        ]
        seed.call(APPLY, {"i": {"manifests": manifests, "waitForIndex": True, "indexTimeout": 60}})
        fingerprints.add(str(seed.call(STATUS)["fingerprint"]))
        seed.close()
        body = json.dumps({"query": STOREFRONT}).encode()
        request = request_bytes(server.api_port, f"/{REPOSITORY}/graphql", body)
        client = Client(server.api_port, args.concurrency)
        pids = process_ids(server)
        cpu = {name: {"steady": 0.0, "writes": 0.0, "swaps": 0.0} for name in pids}

        def timed(name: str, writer: Writer | None) -> tuple[list[float], Writer | None]:
            started = {process: cpu_seconds(pid) for process, pid in pids.items()}
            latencies, done = phase(client, request, args.requests, writer)
            for process, pid in pids.items():
                cpu[process][name] += cpu_seconds(pid) - started[process]
            return latencies, done

        try:
            client.run(request, max(args.requests // 5, 50), b'"totalCount"')  # warm up
            number = 0
            for round_number in range(args.rounds):
                latencies, _ = timed("steady", None)
                steady += latencies
                latencies, writer = timed(
                    "writes", Writer(server.api_port, token, False, number, args.interval)
                )
                assert writer is not None
                writes += latencies
                write_commits += writer.commits
                number = writer.number
                latencies, writer = timed(
                    "swaps", Writer(server.api_port, token, True, number, args.interval)
                )
                assert writer is not None
                swaps += latencies
                swap_commits += writer.commits
                fingerprints |= writer.fingerprints
                number = writer.number
                print(
                    f"{deployment} round {round_number + 1}: {writer.commits} swaps;"
                    f" p99 steady {summarize(steady)['p99_ms']} ms,"
                    f" swaps {summarize(swaps)['p99_ms']} ms",
                    file=sys.stderr,
                )
        finally:
            client.close()
    except BaseException:
        print(f"{deployment} log tail:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
        if args.keep:
            print(f"scratch directory kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    steady_summary, writes_summary, swaps_summary = (
        summarize(steady),
        summarize(writes),
        summarize(swaps),
    )
    ratio = swaps_summary["p99_ms"] / steady_summary["p99_ms"]
    total = args.requests * args.rounds

    def per_commit(phase_cpu: dict[str, float]) -> dict[str, float]:
        per_request = phase_cpu["steady"] / total
        return {
            "steady_ms_per_request": round(per_request * 1000, 3),
            "writes_ms_per_commit": round(
                (phase_cpu["writes"] - per_request * total) * 1000 / max(write_commits, 1), 1
            ),
            "swaps_ms_per_commit": round(
                (phase_cpu["swaps"] - per_request * total) * 1000 / max(swap_commits, 1), 1
            ),
        }

    print(
        f"{deployment}: storefront p99 on a store endpoint: steady {steady_summary['p99_ms']}"
        f" ms, during {swap_commits} schema swaps {swaps_summary['p99_ms']} ms ({ratio:.2f}x;"
        f" with product writes instead {writes_summary['p99_ms']} ms)"
    )
    return {
        "steady_ms": steady_summary,
        "writes_ms": writes_summary,
        "swaps_ms": swaps_summary,
        "product_commits_during_writes": write_commits,
        "kind_commits_during_swaps": swap_commits,
        "schemas_swapped_in": len(fingerprints) - 1,
        "p99_swaps_vs_steady": round(ratio, 2),
        "p99_writes_vs_steady": round(writes_summary["p99_ms"] / steady_summary["p99_ms"], 2),
        "p99_swaps_vs_writes": round(swaps_summary["p99_ms"] / writes_summary["p99_ms"], 2),
        # CPU of each process (serve alone, or git-service / api / worker)
        "server_cpu": {name: per_commit(phase_cpu) for name, phase_cpu in cpu.items()},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deployments = ["serve", "split"] if args.deployment == "both" else [args.deployment]
    results = {deployment: measure(deployment, args) for deployment in deployments}
    targets: dict[str, dict[str, Any]] = {}
    for deployment, result in results.items():
        ratio, swapped = result["p99_swaps_vs_steady"], result["schemas_swapped_in"]
        targets[f"{deployment}_p99_swaps_vs_steady"] = {
            "value": ratio,
            "limit": TARGET,
            "met": ratio <= TARGET,
        }
        targets[f"{deployment}_swaps_happened"] = {
            "value": swapped,
            "limit": 1,
            "met": swapped >= 1,
        }
    figures = {
        "benchmark": "schema_swap",
        "requests_per_phase": args.requests,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "products": args.products,
        "interval_s": args.interval,
        **{
            f"{deployment}_p99_swaps_vs_steady": result["p99_swaps_vs_steady"]
            for deployment, result in results.items()
        },
        "deployments": results,
        "targets": targets,
        "target_met": all(t["met"] for t in targets.values()),
        "python": platform.python_version(),
    }
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
