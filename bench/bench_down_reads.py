"""Benchmark: reading N hub documents in an older version (down-conversion for reads).

A storefront response that asks the deprecated ``price`` of N offers stored as v2
(``pricingMatrix``) needs N hub → v1 conversions through the example ``price`` hook. Three
ways, all through ``DownConversions`` (digests, cache, in-flight map) on the real async pool
and runner (``examples/hooks/price.c``; module compiled once in a warm-up):

* ``batched``: one response (one ``DownBatch``) asks all N at once, cold cache — what a
  store endpoint does: one hook request (instances of up to 1,000 documents);
* ``per_resource``: one conversion per resource, one after the other, cold cache — what
  batching avoids (one wasmtime instance per resource);
* ``cached``: the same response again, every document from the cache.

Target: batched >= 5x the per-resource throughput (measured in the same run). Missing it is
reported (``"target_met": false``). Last line of stdout: one JSON object.

    python bench/bench_down_reads.py [--quick] [--documents N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _util import build_hooks  # noqa: E402

from gitstore.backends.wasm import AsyncHookRunner, WasmHookRunner  # noqa: E402
from gitstore.domain.content import Manifest  # noqa: E402
from gitstore.domain.content.kindset import registry_for  # noqa: E402
from gitstore.domain.conversion.downbatch import DownConversions, Wanted  # noqa: E402

TARGET = 5.0


def offer_kind(sha256: str) -> Manifest:
    def version(name: str, hub: bool, field: str) -> dict[str, Any]:
        return {"name": name, "served": True, "storage": hub,
                "schema": {"type": "object", "properties": {field: {}}}}  # fmt: skip

    return Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "KindDefinition",
            "metadata": {"name": "offers"},
            "spec": {
                "group": "shop.example",
                "names": {"kind": "Offer", "plural": "offers", "singular": "offer"},
                "versions": [version("v1", False, "price"), version("v2", True, "pricingMatrix")],
                "conversion": {
                    "strategy": "Wasm",
                    "wasm": {"module": "hooks/price.wasm", "sha256": sha256},
                },
            },
        }
    )


def hub_specs(n: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Merino Crew Sweater {i}",
            "vendor": "North Wool",
            "tags": ["knitwear", "merino", f"tag-{i % 17}"],
            "pricingMatrix": [
                {"minQuantity": 10, "price": {"amount": f"{40 + i % 50}.00", "currency": "EUR"}},
                {"minQuantity": 1, "price": {"amount": f"{50 + i % 50}.00", "currency": "EUR"}},
            ],
        }
        for i in range(n)
    ]


async def measure(n: int, rounds: int, wasm: bytes) -> dict[str, float]:
    sha256 = hashlib.sha256(wasm).hexdigest()
    definition = registry_for([offer_kind(sha256)]).registry.get("Offer")
    specs = hub_specs(n)

    async def read(_repository: str, _commit: str, _path: str) -> bytes | None:
        return wasm

    totals = {"batched": 0.0, "per_resource": 0.0, "cached": 0.0}
    with WasmHookRunner() as runner:
        pool = AsyncHookRunner(runner)
        try:

            def fresh() -> DownConversions:
                return DownConversions(pool.convert, read)

            def wanted(i: int, tag: str) -> Wanted:
                return Wanted(definition, "v1", "ns/r", f"{tag}-{i}", specs[i], ("c",))

            async def response(shared: DownConversions, tag: str) -> None:
                batch = shared.batch()
                out = await asyncio.gather(*(batch.spec_in(wanted(i, tag)) for i in range(n)))
                assert out[0]["price"] == specs[0]["pricingMatrix"][1]["price"]

            await response(fresh(), "warm-up")  # compiles the module
            for r in range(rounds):
                shared = fresh()
                start = time.perf_counter()
                await response(shared, f"b{r}")
                totals["batched"] += time.perf_counter() - start
                assert shared.runs == 1
                start = time.perf_counter()
                await response(shared, f"b{r}")
                totals["cached"] += time.perf_counter() - start
                assert shared.runs == 1
                single = fresh()
                start = time.perf_counter()
                for i in range(n):
                    await single.batch().spec_in(wanted(i, f"p{r}"))
                totals["per_resource"] += time.perf_counter() - start
                assert single.runs == n
        finally:
            pool.close()
    return {name: n * rounds / seconds for name, seconds in totals.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--documents", type=int)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    n = args.documents or (200 if args.quick else 1_000)
    rounds = args.rounds or (2 if args.quick else 3)
    if build_hooks() is None:
        return 1
    wasm = (ROOT / "build" / "hooks" / "price.wasm").read_bytes()
    rate = asyncio.run(measure(n, rounds, wasm))
    ratio = rate["batched"] / rate["per_resource"]
    result = {
        "benchmark": "down_reads",
        "documents": n,
        "rounds": rounds,
        "batched_docs_per_s": round(rate["batched"]),
        "per_resource_docs_per_s": round(rate["per_resource"]),
        "cached_docs_per_s": round(rate["cached"]),
        "ratio_batched_vs_per_resource": round(ratio, 2),
        "ratio_cached_vs_batched": round(rate["cached"] / rate["batched"], 2),
        "target": TARGET,
        "target_met": ratio >= TARGET,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
