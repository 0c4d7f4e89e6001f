"""Benchmark: converting N documents through a real WASI hook vs the runtime's floor.

Three ways to turn N v1 product specs (``price``) into the v2 hub (``pricingMatrix``):

* ``hook``: the example ``price`` hook (examples/hooks/price.c) through the real runner
  (``WasmHookRunner.convert``: JSON Lines encode, batches of 1,000, one wasmtime instance per
  batch with fuel, memory and epoch limits, decode and check of the output);
* ``identity`` (the floor): the same runner and the same I/O with examples/hooks/identity.c,
  which copies stdin to stdout — everything the runtime costs, with no conversion work;
* ``python``: the same transform written in Python on the dicts (reported, for scale: it does
  no JSON and no sandboxing).

Modules are compiled once (warm-up) and served from the cache. The phases run in several
short rounds, in shuffled order each round, so background load on a shared machine hits them
alike; throughput is documents / total time of a phase over all rounds.

Target (issue 9): the hook's throughput >= 80 % of the identity floor's. Missing it is
reported (``"target_met": false``), not an error. Last line of stdout: one JSON object.

    python bench/bench_conversion.py [--quick] [--documents N] [--rounds R]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _util import build_hooks  # noqa: E402

from gitstore.backends.wasm import WasmHookRunner  # noqa: E402
from gitstore.domain.conversion import ConversionRequest, Direction, HookRef  # noqa: E402

TARGET = 0.8


def documents(n: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"Merino Crew Sweater {i}",
            "status": "active",
            "vendor": "North Wool",
            "price": {"amount": f"{50 + i % 50}.00", "currency": "EUR"},
            "tags": ["knitwear", "merino", f"tag-{i % 17}"],
            "options": [{"name": "size", "values": ["S", "M", "L"]}],
            "variants": [
                {"sku": f"NW-{i}-{s}", "options": {"size": s}, "inventoryQuantity": i % 13}
                for s in ("S", "M", "L")
            ],
        }
        for i in range(n)
    ]


def python_to_hub(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "price":
            out["pricingMatrix"] = [{"minQuantity": 1, "price": value}]
        else:
            out[key] = value
    return out


def hook(name: str) -> tuple[HookRef, bytes]:
    data = (ROOT / "build" / "hooks" / f"{name}.wasm").read_bytes()
    return HookRef("Product", f"hooks/{name}.wasm", hashlib.sha256(data).hexdigest()), data


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--documents", type=int)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    n = args.documents or (1_000 if args.quick else 10_000)
    rounds = args.rounds or (3 if args.quick else 6)

    if build_hooks() is None:
        return 1
    docs = documents(n)
    price, price_data = hook("price")
    identity, identity_data = hook("identity")
    expected = [python_to_hub(d) for d in docs]
    input_bytes = sum(len(json.dumps(d, separators=(",", ":"))) + 1 for d in docs)

    with WasmHookRunner() as runner:

        def run_hook() -> None:
            request = ConversionRequest(price, Direction.TO_HUB, "v1", "v2", docs)
            assert runner.convert(request, price_data) == expected

        def run_identity() -> None:
            request = ConversionRequest(identity, Direction.TO_HUB, "v1", "v2", docs)
            assert len(runner.convert(request, identity_data)) == n

        def run_python() -> None:
            assert len([python_to_hub(d) for d in docs]) == n

        phases = {"hook": run_hook, "identity": run_identity, "python": run_python}
        for run in phases.values():  # warm-up: compile and cache the modules
            run()
        totals = dict.fromkeys(phases, 0.0)
        per_round: list[float] = []
        for _ in range(rounds):
            order = list(phases)
            random.shuffle(order)
            took: dict[str, float] = {}
            for name in order:
                start = time.perf_counter()
                phases[name]()
                took[name] = time.perf_counter() - start
                totals[name] += took[name]
            per_round.append(took["identity"] / took["hook"])

    rate = {name: n * rounds / seconds for name, seconds in totals.items()}
    ratio = rate["hook"] / rate["identity"]
    result = {
        "benchmark": "conversion",
        "documents": n,
        "rounds": rounds,
        "input_bytes": input_bytes,
        "batch_documents": 1000,
        "hook_docs_per_s": round(rate["hook"]),
        "identity_floor_docs_per_s": round(rate["identity"]),
        "python_docs_per_s": round(rate["python"]),
        "ratio_hook_vs_floor": round(ratio, 3),
        "ratio_per_round": [round(r, 3) for r in per_round],
        "ratio_hook_vs_python": round(rate["hook"] / rate["python"], 4),
        "target": TARGET,
        "target_met": ratio >= TARGET,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
