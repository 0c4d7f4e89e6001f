"""Profile: the worker's prepare stage per catalogue product, with and without the reader.

Not a ``bench_*.py`` (the runner does not pick it up): a tool for issue 16's prepare work.
``--count`` catalogue products (``_products``: paths and canonical YAML), the built-in
registry and each file's path identity computed up front (as the worker's plan does), then,
CPU time of this process (``time.process_time``) per product, best of ``--repeat``:

* ``prepare``: ``parsing.prepare_many(items, registry, identities=...)``, as the worker runs
  it (parse, envelope, body, validation, indexes, upsert);
* ``reader``: ``blockyaml.fast_load`` alone on the same texts;
* ``without_reader``: ``prepare_many`` again with ``yamlio.fast_load`` replaced by a lookup
  of its result (computed before): everything in prepare but the YAML reader, measured
  directly rather than as a difference of two noisy figures.

``--profile`` prints a cProfile of one ``prepare_many`` (sorted by internal time) instead.

    PYTHONPATH=src:bench .venv/bin/python bench/profile_prepare.py --count 5000
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

import _products

from gitstore.domain.content import KindRegistry, yamlio
from gitstore.domain.content.paths import identity_for_path
from gitstore.worker.parsing import prepare_many


def _cpu_per_item(run: Callable[[], Any], count: int, repeat: int) -> float:
    """Best CPU µs per item of ``run`` over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    registry = KindRegistry.builtin()
    items = [
        (_products.product_path(i), f"{i:040x}", _products.product_yaml(i))
        for i in range(args.count)
    ]
    identities = [identity_for_path(path, registry) for path, _, _ in items]
    texts = [content.decode() for _, _, content in items]

    def prepare() -> None:
        prepare_many(items, registry, identities=identities)

    prepare()  # warm: compiled schemas, memoised checks
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        prepare()
        profile.disable()
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(40)
        return
    reader = yamlio.fast_load
    figures = {
        "prepare": _cpu_per_item(prepare, args.count, args.repeat),
        "reader": _cpu_per_item(
            lambda: [reader(text, yamlio._plain_tag) for text in texts], args.count, args.repeat
        ),
    }
    loaded = {text: reader(text, yamlio._plain_tag) for text in texts}
    yamlio.fast_load = lambda text, resolve: loaded[text]  # type: ignore[assignment]
    try:
        figures["without_reader"] = _cpu_per_item(prepare, args.count, args.repeat)
    finally:
        yamlio.fast_load = reader
    for name, value in figures.items():
        print(f"{name:15s} {value:7.1f} µs/product")
    print(json.dumps({"count": args.count, **{k: round(v, 2) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
