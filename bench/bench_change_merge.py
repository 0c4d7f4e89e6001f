"""Benchmark: the semantic diff and the three-way merge of a change request (domain only).

A repository slice of ``--resources`` products (YAML, each with three variants keyed by
``sku``) at base; the target changes the title of every 10th product, the source the price
and one variant's stock of every 7th (so some products change on both sides, in different
fields: merged field by field, variants by sku). Timed, CPU time, median of ``--rounds``
shuffled rounds after a warm-up:

* ``parse``: reading the three slices into snapshots (``snapshot``: parse every manifest),
  the floor — any merge has to read the files;
* ``diff``: ``semantic_diff(base, source)``;
* ``merge``: ``merge_snapshots(base, target, source)`` (including encoding merged files).

Target: diff + merge <= parse (the per-field work costs less than reading the files).
Last line of stdout: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import yaml

from gitstore.domain.changes import merge_snapshots, semantic_diff, snapshot


def product(name: str, title: str, price: str, stock: int) -> bytes:
    doc: dict[str, Any] = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": name},
        "spec": {
            "title": title,
            "price": {"amount": price, "currency": "EUR"},
            "variants": [{"sku": f"{name}-{size}", "stock": stock} for size in ("s", "m", "l")],
        },
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


def slices(n: int) -> tuple[dict[str, bytes], dict[str, bytes], dict[str, bytes]]:
    base, target, source = {}, {}, {}
    for i in range(n):
        name, path = f"p{i:06d}", f"products/p{i:06d}.yaml"
        base[path] = product(name, name.title(), "10.00", 1)
        target[path] = product(name, f"New {name}" if i % 10 == 0 else name.title(), "10.00", 1)
        changed = i % 7 == 0
        source[path] = product(
            name, name.title(), "9.00" if changed else "10.00", 5 if changed else 1
        )
    return base, target, source


def cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base, target, source = slices(args.resources)
    snaps = [snapshot(s) for s in (base, target, source)]
    result_holder: dict[str, Any] = {}

    def parse() -> None:
        for s in (base, target, source):
            snapshot(s)

    def diff() -> None:
        result_holder["diff"] = semantic_diff(snaps[0], snaps[2])

    def merge() -> None:
        result_holder["merge"] = merge_snapshots(*snaps)

    work = {"parse": parse, "diff": diff, "merge": merge}
    for fn in work.values():
        fn()  # warm-up
    samples: dict[str, list[float]] = {k: [] for k in work}
    for _ in range(args.rounds):
        order = list(work)
        random.shuffle(order)
        for key in order:
            samples[key].append(cpu(work[key]))
    med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
    merged = result_holder["merge"]
    out = {
        "bench": "change_merge",
        "resources": args.resources,
        "changed_resources": len(result_holder["diff"]),
        "merged_files": len(merged.actions),
        "conflicts": len(merged.conflicts),
        "parse_ms": round(med["parse"], 1),
        "diff_ms": round(med["diff"], 1),
        "merge_ms": round(med["merge"], 1),
        "ratio": round((med["diff"] + med["merge"]) / med["parse"], 3),
        "target_met": med["diff"] + med["merge"] <= med["parse"],
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
