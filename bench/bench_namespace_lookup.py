"""Benchmark: ``namespace(by: {identifier})`` over HTTP, document cache on and off, against
the same server's ``/healthz`` as the floor.

Two real ``gitstore api`` subprocesses share one scratch data dir (SQLite metadata store,
``--db-url`` default): one with the parsed-document cache on, one with
``GITSTORE_API__DOCUMENT_CACHE=false``. The store is seeded with namespaces through the API
(the looked-up one, ``acme-corp``, among them). The query is the architecture document's
"Get namespace by identifier" example, sent anonymously as a POST with a JSON body.

Load (``_httpload``): pre-built request bytes over ``--concurrency`` keep-alive HTTP/1.1
connections on raw non-blocking sockets and one selector, in this process (not the servers'),
one request in flight per connection, each connection sending its share of a fixed number of
requests back to back, the same for every route, so the floor and the lookups are driven
alike. It costs ~70-90 us of CPU per request (``client_cpu_us``), most of it kernel
loopback TCP work. Latency is per request as the client sees it (queueing included).

Phases: cached lookup, uncached lookup and ``/healthz`` on each server, measured in many
short rounds (40 x 250 requests; each phase keeps its connections open across rounds), each
round in shuffled order, after a warm-up, so background load hits them alike: on the shared
box the ratio of one round to the next swings several-fold with what else runs, and only
fine interleaving makes the totals comparable (the uncached lookup, ~10x slower, gets a
fifth of the requests per round). The per-round ratios are reported too.
Requests per second are total requests / total time of a phase over all rounds; p50/p99 are
over all samples. Every response must be 200; every lookup body is checked once per
connection and phase.

Server CPU per request (``server_cpu_us``, Linux only): the server process's user + system
CPU time over a phase (``/proc/<pid>/stat``, 10 ms ticks: meaningful over thousands of
requests) divided by its requests. On a shared 2-core box the throughput ratio moves with
what else runs (when the load generator or other work starves the server, the floor drops
and the ratio looks better); the CPU ratio (``cpu_ratio_cached_vs_healthz`` = healthz CPU /
lookup CPU) does not depend on who else uses the machine as much, so both are reported.

Target (issue 3): cached-document throughput >= 40 % of the same server's ``/healthz``.
Missing it is reported (``"target_met": false``), not an error. Last line of stdout: the
figures as one JSON object.
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
from typing import Any

import httpx
from _httpload import Client, process_cpu_seconds, request_bytes
from _util import free_port, summarize

TARGET = 0.40
ADMIN = "bench-admin"
PASSWORD = "bench-password-123"
LOOKUP = """# Get namespace by identifier
query {
  namespace(by: {identifier: "acme-corp"}) {
    id identifier displayName tier parentEnterpriseId
    createdAt createdBy updatedAt updatedBy
  }
}"""
CREATE = """mutation($i: String!, $t: NamespaceTier!) {
  createNamespace(input: {identifier: $i, tier: $t}) { namespace { id } userErrors { message } }
}"""


# ---------------------------------------------------------------------- servers
class ApiProcess:
    def __init__(self, scratch: Path, name: str, document_cache: bool) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = scratch / f"api-{name}.log"
        self.env = {
            **os.environ,
            "GITSTORE_DATA_DIR": str(scratch / "data"),
            "GITSTORE_API__PORT": str(self.port),
            # The API's other listener: any free port (two of these run at once, and the
            # default 50052 may belong to a `gitstore serve` running beside the benchmark).
            "GITSTORE_HOOK__GRPC__PORT": "0",
            "GITSTORE_API__DOCUMENT_CACHE": "true" if document_cache else "false",
            "GITSTORE_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gitstore", "api"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gitstore api exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"gitstore api not ready after {timeout:.0f}s:\n" + self.log_tail()
                )
            time.sleep(0.1)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("gitstore api is not running")
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def create_admin(scratch: Path) -> None:
    env = {
        **os.environ,
        "GITSTORE_DATA_DIR": str(scratch / "data"),
        "GITSTORE_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "gitstore", "user", "create", ADMIN, "--admin", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )


def seed(base: str, namespaces: int) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        login = client.post(
            "/graphql",
            json={
                "query": "mutation($u: String!, $p: String!) { login(input: {username: $u,"
                " password: $p}) { token userErrors { message } } }",
                "variables": {"u": ADMIN, "p": PASSWORD},
            },
        ).json()["data"]["login"]
        if not login["token"]:
            raise RuntimeError(f"login failed: {login['userErrors']}")
        headers = {"Authorization": f"Bearer {login['token']}"}
        tiers = ["USER", "ORGANISATION"]
        names = [f"ns-{i:05d}" for i in range(namespaces - 1)]
        names.insert(len(names) // 2, "acme-corp")
        for index, name in enumerate(names):
            body = client.post(
                "/graphql",
                json={"query": CREATE, "variables": {"i": name, "t": tiers[index % 2]}},
                headers=headers,
            ).json()
            errors = body.get("errors") or body["data"]["createNamespace"]["userErrors"]
            if errors:
                raise RuntimeError(f"seeding {name} failed: {errors}")


# ---------------------------------------------------------------------- load
class Phase:
    """One route on one server: its requests, wall time and server CPU, over all rounds."""

    def __init__(
        self, key: str, server: ApiProcess, request: bytes, expect: bytes, concurrency: int
    ) -> None:
        self.key, self.server, self.request, self.expect = key, server, request, expect
        self.client = Client(server.port, concurrency)
        self.seconds = 0.0
        self.cpu_seconds: float | None = 0.0
        self.client_cpu_seconds = 0.0
        self.samples: list[float] = []
        self.round_rps: list[float] = []  # one per measured round

    def run(self, total: int, record: bool = True) -> None:
        pid = self.server.pid
        cpu_before, client_before = process_cpu_seconds(pid), time.process_time()
        elapsed, samples = self.client.run(self.request, total, self.expect)
        cpu_after, client_after = process_cpu_seconds(pid), time.process_time()
        if record:
            self.seconds += elapsed
            self.round_rps.append(len(samples) / elapsed)
            self.client_cpu_seconds += client_after - client_before
            self.samples += samples
            if self.cpu_seconds is not None and cpu_before is not None and cpu_after is not None:
                self.cpu_seconds += cpu_after - cpu_before
            else:
                self.cpu_seconds = None

    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "rps": round(len(self.samples) / self.seconds, 1),
            **summarize(self.samples),
        }
        if self.cpu_seconds is not None:
            figures["server_cpu_us"] = round(self.cpu_seconds / len(self.samples) * 1e6, 1)
        figures["client_cpu_us"] = round(self.client_cpu_seconds / len(self.samples) * 1e6, 1)
        return figures


def measure(
    cached: ApiProcess, uncached: ApiProcess, rounds: int, per_round: int, concurrency: int
) -> dict[str, Phase]:
    body = json.dumps({"query": LOOKUP}).encode()
    lookup = {port: request_bytes(port, "/graphql", body) for port in (cached.port, uncached.port)}
    health = {port: request_bytes(port, "/healthz") for port in (cached.port, uncached.port)}
    specs = {
        "lookup_cached": (cached, lookup[cached.port], b'"acme-corp"'),
        "lookup_uncached": (uncached, lookup[uncached.port], b'"acme-corp"'),
        "healthz": (cached, health[cached.port], b'"ok"'),
        "healthz_uncached_server": (uncached, health[uncached.port], b'"ok"'),
    }
    phases: dict[str, Phase] = {}
    try:
        for key, (server, request, expect) in specs.items():
            phases[key] = Phase(key, server, request, expect, concurrency)
        # the uncached phase is ~10x slower: it gets a fifth of the requests, so it does not
        # dominate the run (its rate and percentiles are still over hundreds of samples)
        share = {
            key: max(1, per_round // 5) if key == "lookup_uncached" else per_round for key in phases
        }
        for phase in phases.values():  # warm-up: the cache, lazy imports
            phase.run(max(100, share[phase.key]), record=False)
        order = list(phases.values())
        shuffle = random.Random(7)
        for number in range(1, rounds + 1):
            shuffle.shuffle(order)
            for phase in order:
                phase.run(share[phase.key])
            if sys.stderr.isatty():
                sys.stderr.write(f"\r\x1b[Kround {number}/{rounds}")
                sys.stderr.flush()
        if sys.stderr.isatty():
            sys.stderr.write("\n")
    finally:
        for phase in phases.values():
            phase.client.close()
    return phases


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke test")
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds (40)")
    parser.add_argument(
        "--requests", type=int, default=None, help="requests per phase and round (250)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="connections (16)")
    parser.add_argument("--namespaces", type=int, default=None, help="namespaces seeded (500)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    rounds = args.rounds or (8 if args.quick else 40)
    per_round = args.requests or (125 if args.quick else 250)
    namespaces = args.namespaces or (50 if args.quick else 500)

    scratch = Path(tempfile.mkdtemp(prefix="bench-nslookup-"))
    servers: list[ApiProcess] = []
    try:
        create_admin(scratch)
        cached = ApiProcess(scratch, "cached", document_cache=True)
        uncached = ApiProcess(scratch, "uncached", document_cache=False)
        servers += [cached, uncached]
        cached.start()  # first, alone: it generates the JWT key the second one reads
        uncached.start()
        seed(cached.base, namespaces)
        phases = measure(cached, uncached, rounds, per_round, args.concurrency)
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    figures = {key: phase.figures() for key, phase in phases.items()}
    floor = figures["healthz"]["rps"]
    ratio_cached = figures["lookup_cached"]["rps"] / floor
    round_ratios = [
        round(lookup / health, 3)
        for lookup, health in zip(
            phases["lookup_cached"].round_rps, phases["healthz"].round_rps, strict=True
        )
    ]
    ratio_uncached = figures["lookup_uncached"]["rps"] / figures["healthz_uncached_server"]["rps"]
    speedup = figures["lookup_cached"]["rps"] / figures["lookup_uncached"]["rps"]
    cpu = {key: value.get("server_cpu_us") for key, value in figures.items()}
    cpu_ratio = (
        round(cpu["healthz"] / cpu["lookup_cached"], 3)
        if cpu["healthz"] and cpu["lookup_cached"]
        else None
    )
    print(
        f"namespace(by: {{identifier}}) over HTTP, {namespaces} namespaces, "
        f"{args.concurrency} connections, {rounds} rounds x {per_round} requests per phase"
    )
    print(f"{'phase':26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server CPU us/req':>18}")
    for key, value in figures.items():
        print(
            f"{key:26} {value['rps']:>9.1f} {value['p50_ms']:>8.3f} {value['p99_ms']:>8.3f}"
            f" {value.get('server_cpu_us', float('nan')):>18.1f}"
        )
    print(f"cached lookup / healthz:       {ratio_cached:.2f} (target >= {TARGET:.2f})")
    print(f"  round by round:              {', '.join(f'{r:.2f}' for r in round_ratios)}")
    if cpu_ratio is not None:
        print(f"  by server CPU per request:   {cpu_ratio:.2f}")
    print(f"uncached lookup / its healthz: {ratio_uncached:.2f}")
    print(f"document cache speed-up:       {speedup:.2f}x")
    result = {
        "benchmark": "namespace_lookup",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "namespaces": namespaces,
        "concurrency": args.concurrency,
        "rounds": rounds,
        "requests_per_phase_round": per_round,
        "requests_per_round_uncached": per_round // 5,
        **figures,
        "ratio_cached_vs_healthz": round(ratio_cached, 3),
        "round_ratios_cached_vs_healthz": round_ratios,
        "cpu_ratio_cached_vs_healthz": cpu_ratio,
        "ratio_uncached_vs_healthz": round(ratio_uncached, 3),
        "document_cache_speedup": round(speedup, 3),
        "target": f"lookup_cached.rps >= {TARGET} x healthz.rps",
        "target_met": ratio_cached >= TARGET,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
