"""Benchmark: status writes over GraphQL (``updateProductStatus`` with its resourceVersion
precondition) against the raw resource store's compare-and-set as the floor.

A real ``gitstore serve`` subprocess (embedded backends in a scratch data dir: the SQLite
resource store ``resources.sqlite3``); an admin, an ORGANISATION namespace and a repository
made through GraphQL; ``--products`` products seeded into the resource store file the way the
worker feeds it (``apply_commit``). Then, in interleaved shuffled rounds:

* **graphql**: ``--writers`` threads, each with one keep-alive HTTP/1.1 connection and its
  own product, each writing ``--writes`` statuses back to back, every write carrying the
  resourceVersion the previous answer returned (so none conflicts);
* **raw** (the floor): the same numbers of writers and writes as asyncio tasks on a
  ``SqliteResourceStore`` of the same file in this process: ``update_status`` with the
  same precondition, no HTTP, no GraphQL, no permission check.

Writes/s = writes / wall time of a phase over all rounds; p50/p99 per write. Target (issue
10): graphql >= 0.3 x raw. Missing it is reported (``"target_met": false``), not an error.
Last line of stdout: the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _serve import Http, ServeProcess, create_admin, create_repository, login
from _util import summarize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gitstore.backends.resources.sqlite import SqliteResourceStore
from gitstore.domain.resources.model import SpecUpsert

TARGET = 0.3
REPOSITORY = "bench-status/catalog"
UPDATE = """mutation($i: UpdateProductStatusInput!) {
  updateProductStatus(input: $i) { resource { resourceVersion } userErrors { code message } }
}"""


def status(n: int) -> dict[str, Any]:
    return {
        "observedGeneration": 1,
        "conditions": [
            {"type": "Ready", "status": "True" if n % 2 else "False", "reason": "Checked"}
        ],
        "n": n,
    }


def graphql_phase(port: int, token: str, versions: dict[str, int], writes: int) -> list[float]:
    samples: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def writer(name: str) -> None:
        http = Http(port, token)
        mine: list[float] = []
        try:
            for n in range(writes):
                started = time.perf_counter()
                data = http.graphql(
                    UPDATE,
                    {
                        "i": {
                            "repository": REPOSITORY,
                            "name": name,
                            "resourceVersion": str(versions[name]),
                            "status": status(n),
                        }
                    },
                )["updateProductStatus"]
                mine.append((time.perf_counter() - started) * 1000)
                if data["userErrors"]:
                    failures.append(str(data["userErrors"]))
                    return
                versions[name] = int(data["resource"]["resourceVersion"])
        finally:
            http.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=writer, args=(name,)) for name in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"status writes failed: {failures[:3]}")
    return samples


async def raw_phase(
    store: SqliteResourceStore, versions: dict[str, int], writes: int
) -> list[float]:
    samples: list[float] = []

    async def writer(name: str) -> None:
        for n in range(writes):
            started = time.perf_counter()
            resource, _ = await store.update_status(
                REPOSITORY, "Product", name, versions[name], status(n)
            )
            samples.append((time.perf_counter() - started) * 1000)
            versions[name] = resource.resource_version

    await asyncio.gather(*(writer(name) for name in versions))
    return samples


async def current(store: SqliteResourceStore, names: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in names:
        found = await store.get(REPOSITORY, "Product", name)
        assert found is not None
        out[name] = found.resource_version
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--writers", type=int, default=None)
    parser.add_argument("--writes", type=int, default=None, help="per writer and round")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    writers = args.writers or (4 if args.quick else 8)
    writes = args.writes or (25 if args.quick else 100)
    rounds = args.rounds or (2 if args.quick else 6)
    scratch = Path(tempfile.mkdtemp(prefix="bench-status-"))
    server = ServeProcess(scratch, {})
    loop = asyncio.new_event_loop()
    try:
        create_admin(server)
        server.start()
        token = login(server.api_port)
        create_repository(server.api_port, token, REPOSITORY)
        store = SqliteResourceStore(server.data_dir / "resources.sqlite3")
        names = [f"p{i:03d}" for i in range(writers)]
        upserts = [SpecUpsert("Product", n, "gitstore.dev/v1", {"title": n.upper()}) for n in names]
        loop.run_until_complete(store.migrate())
        loop.run_until_complete(store.apply_commit(REPOSITORY, "seed", upserts, []))
        # warm-up, untimed
        graphql_phase(server.api_port, token, loop.run_until_complete(current(store, names)), 5)
        loop.run_until_complete(raw_phase(store, loop.run_until_complete(current(store, names)), 5))
        totals = {"graphql": 0.0, "raw": 0.0}
        samples: dict[str, list[float]] = {"graphql": [], "raw": []}
        per_round: list[float] = []
        for _ in range(rounds):
            order = ["graphql", "raw"]
            random.shuffle(order)
            took: dict[str, float] = {}
            for phase in order:
                versions = loop.run_until_complete(current(store, names))
                started = time.perf_counter()
                if phase == "graphql":
                    got = graphql_phase(server.api_port, token, versions, writes)
                else:
                    got = loop.run_until_complete(raw_phase(store, versions, writes))
                took[phase] = time.perf_counter() - started
                totals[phase] += took[phase]
                samples[phase].extend(got)
            per_round.append(round(took["raw"] / took["graphql"], 3))
        loop.run_until_complete(store.close())
        n = writers * writes * rounds
        rate = {phase: n / totals[phase] for phase in totals}
        ratio = rate["graphql"] / rate["raw"]
        figures = {
            "benchmark": "status_writes",
            "writers": writers,
            "writes_per_phase": writers * writes,
            "rounds": rounds,
            "graphql_writes_per_s": round(rate["graphql"], 1),
            "raw_cas_writes_per_s": round(rate["raw"], 1),
            "graphql": summarize(samples["graphql"]),
            "raw": summarize(samples["raw"]),
            "ratio": round(ratio, 3),
            "ratio_per_round": per_round,
            "target": TARGET,
            "target_met": ratio >= TARGET,
        }
        print(
            f"status writes: graphql {rate['graphql']:.0f}/s, raw store CAS {rate['raw']:.0f}/s,"
            f" ratio {ratio:.2f} (target >= {TARGET})"
        )
        print(json.dumps(figures))
    finally:
        loop.close()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
