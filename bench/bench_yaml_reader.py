"""Measure: GitStore's YAML reader on catalogue products, CPU per product (issue 16).

A focused tool for the fourth round of issue 16 (docs/benchmarks.md, "Fourth round: the
YAML reader"), not picked up by ``run.py``. Each of ``--repeat`` rounds reads ``--count``
catalogue products (``_products.product_yaml``) it has not read before (round ``r`` takes
products ``r*count .. (r+1)*count``), so the readers' caches of lines and values are as warm
as in a real projection (the repeated lines known, each product's own lines new); the figure
is the best round's CPU per product (``time.process_time``), results kept as the worker keeps
them (their garbage-collection cost included):

* ``fast_load``: ``blockyaml`` alone;
* ``load_yaml``: ``load_yaml(text, lazy_positions=True)``, what ``parse_manifest`` calls;
* ``roundtrip``: ``yaml_rs`` accepted by the round-trip guard (``_roundtrip_yaml``), and
  ``yaml_rs_alone`` (no guard), with ``--roundtrip``;
* ``prepare_many``: the worker's prepare stage (parse, validate, encode) with the plan's
  identities, with ``--prepare``.

    PYTHONPATH=src:bench .venv/bin/python bench/bench_yaml_reader.py --count 5000 --prepare
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from typing import Any

import _products

from gitstore.domain.content import KindRegistry
from gitstore.domain.content.blockyaml import fast_load
from gitstore.domain.content.paths import identity_for_path
from gitstore.domain.content.yamlio import _plain_tag, load_yaml


def best(run: Callable[[int], Any], repeat: int, count: int) -> float:
    """Best CPU µs per product of ``run(round)`` over ``repeat`` rounds."""
    times = []
    for r in range(repeat):
        gc.collect()
        start = time.process_time()
        kept = run(r)
        times.append(time.process_time() - start)
        del kept
    return round(min(times) / count * 1e6, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--roundtrip", action="store_true")
    args = parser.parse_args()
    n, repeat = args.count, args.repeat
    raw = [[_products.product_yaml(r * n + i) for i in range(n)] for r in range(repeat)]
    texts = [[b.decode() for b in batch] for batch in raw]
    out: dict[str, float] = {}
    out["fast_load"] = best(lambda r: [fast_load(t, _plain_tag) for t in texts[r]], repeat, n)
    out["load_yaml"] = best(
        lambda r: [load_yaml(t, lazy_positions=True) for t in texts[r]], repeat, n
    )
    if args.roundtrip:
        from _roundtrip_yaml import native_load, roundtrip_load

        for batch in texts:
            for t in batch:
                assert roundtrip_load(t) == fast_load(t, _plain_tag), t
        out["roundtrip"] = best(lambda r: [roundtrip_load(t) for t in texts[r]], repeat, n)
        out["yaml_rs_alone"] = best(lambda r: [native_load(t) for t in texts[r]], repeat, n)
    if args.prepare:
        from gitstore.worker.parsing import prepare_many

        registry = KindRegistry.builtin()
        items, identities = [], []
        for r, batch in enumerate(raw):
            paths = [_products.product_path(r * n + i) for i in range(n)]
            items.append(
                [(p, f"{r * n + i:040x}", b) for i, (p, b) in enumerate(zip(paths, batch))]
            )
            identities.append([identity_for_path(p) for p in paths])
        assert all(p.upsert is not None for p in prepare_many(items[0][:50], registry))
        out["prepare_many"] = best(
            lambda r: prepare_many(items[r], registry, identities=identities[r]), repeat, n
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
