"""Benchmark: reconcile throughput of the readiness controller on 10,000 products, against a
floor of the same status writes issued directly, without the runtime, in the same run.

A real ``gitstore serve`` subprocess (embedded backends in a scratch data dir); an admin, a
namespace and two repositories made through GraphQL; ``--products`` products seeded into
each repository's resources in the SQLite resource store file the way the worker feeds it
(``apply_commit``; a third of them not ready for some reason). Then, in shuffled order:

* **runtime**: a ``Manager`` with the built-in ``ReadinessController`` (``--workers``
  workers) on repository A, over HTTP like any deployment: list (informer), watch
  (graphql-sse), work queue, one ``updateProductStatus`` per product with its
  resourceVersion precondition; timed from start until every product's status is written;
* **direct** (the floor): on repository B, the same list query and the same statuses
  (``domain.readiness``) written by ``--workers`` concurrent tasks with one httpx client,
  no informer, no queue, no watch.

Reconciles/s = products / wall time. Last line of stdout: the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _serve import ServeProcess, create_admin, create_repository, login

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gitstore.backends.resources.sqlite import SqliteResourceStore
from gitstore.controllers.builtin.readiness import UPDATE, ReadinessController
from gitstore.controllers.client import ApiClient, payload_of
from gitstore.controllers.manager import Manager
from gitstore.domain.readiness import readiness_status
from gitstore.domain.resources.model import SpecUpsert

NAMESPACE = "bench-reconcile"
LIST = """query($r: String!) { resources(repository: $r, kind: "Product") {
  resourceVersion items { object } } }"""


def spec(i: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Product {i}",
        "status": "active",
        "categories": ["c"],
        "price": {"amount": "20.00", "currency": "EUR"},
        "sku": f"SKU-{i}",
        "attributes": {"cost": "8"},
    }
    if i % 3 == 1:
        body["categories"] = []
    elif i % 3 == 2:
        body["attributes"] = {"cost": "30"}
    return body


async def seed(store: SqliteResourceStore, repository: str, n: int) -> None:
    upserts = [SpecUpsert("Product", f"p{i:05d}", "gitstore.dev/v1", spec(i)) for i in range(n)]
    for start in range(0, n, 2000):
        await store.apply_commit(repository, f"seed-{start}", upserts[start : start + 2000], [])


async def runtime_phase(url: str, token: str, repository: str, n: int, workers: int) -> float:
    client = ApiClient(url, token, timeout=120)
    controller = ReadinessController()
    manager = Manager(
        client, repository, [controller], workers=workers, lease_seconds=30,
        queue_options={"qps": 1e6, "burst": 10**6},
    )  # fmt: skip
    started = time.perf_counter()
    await manager.start()
    try:
        while controller.writes < n:
            await asyncio.sleep(0.01)
        return time.perf_counter() - started
    finally:
        await manager.stop(10)
        await client.close()


async def direct_phase(url: str, token: str, repository: str, n: int, workers: int) -> float:
    client = ApiClient(url, token, timeout=120)
    started = time.perf_counter()
    try:
        items = (await client.execute(LIST, {"r": repository}))["resources"]["items"]
        objects = [item["object"] for item in items]
        assert len(objects) == n, len(objects)
        pending = iter(objects)

        async def writer() -> None:
            for obj in pending:
                meta = obj["metadata"]
                status = readiness_status(obj["status"], obj["spec"], meta["generation"])
                data = await client.execute(
                    UPDATE,
                    {
                        "input": {
                            "repository": repository,
                            "name": meta["name"],
                            "resourceVersion": meta["resourceVersion"],
                            "status": status,
                        }
                    },
                )
                payload_of(data, "updateProductStatus")

        await asyncio.gather(*(writer() for _ in range(workers)))
        return time.perf_counter() - started
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--products", type=int, default=None)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    n = args.products or (1000 if args.quick else 10_000)
    scratch = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    server = ServeProcess(scratch, {})
    try:
        create_admin(server)
        server.start()
        token = login(server.api_port)
        repos = {"runtime": f"{NAMESPACE}-a/catalog", "direct": f"{NAMESPACE}-b/catalog"}
        create_repository(server.api_port, token, repos["runtime"])
        create_repository(server.api_port, token, repos["direct"])
        store = SqliteResourceStore(server.data_dir / "resources.sqlite3")

        async def prepare() -> None:
            await store.migrate()
            for repository in repos.values():
                await seed(store, repository, n)
            await store.close()

        asyncio.run(prepare())
        url = f"http://127.0.0.1:{server.api_port}"
        order = list(repos)
        random.shuffle(order)
        took: dict[str, float] = {}
        for phase in order:
            run = runtime_phase if phase == "runtime" else direct_phase
            took[phase] = asyncio.run(run(url, token, repos[phase], n, args.workers))
        rate = {phase: n / took[phase] for phase in took}
        ratio = rate["runtime"] / rate["direct"]
        figures = {
            "benchmark": "reconcile",
            "products": n,
            "workers": args.workers,
            "order": order,
            "runtime_reconciles_per_s": round(rate["runtime"], 1),
            "direct_writes_per_s": round(rate["direct"], 1),
            "runtime_seconds": round(took["runtime"], 2),
            "direct_seconds": round(took["direct"], 2),
            "ratio": round(ratio, 3),
        }
        print(
            f"readiness reconciles: runtime {rate['runtime']:.0f}/s, direct status writes"
            f" {rate['direct']:.0f}/s, ratio {ratio:.2f}"
        )
        print(json.dumps(figures))
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
