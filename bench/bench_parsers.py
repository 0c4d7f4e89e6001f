"""Native libraries vs GitStore's own paths: manifests parsed and validated per second.

Issue 16 asks for well-kept native libraries before hand-written fast paths. This benchmark
measures, on the same manifests and in the same run:

* parse (YAML text -> data): GitStore's ``load_yaml`` (``blockyaml``'s line reader, then the
  lean PyYAML pass for anything else), the lean PyYAML pass alone, and ``yaml_rs`` (Rust,
  installed as a dev dependency for bench_projection_bound.py) when present; ``same_data``
  counts the documents each gives exactly GitStore's data for;
* validate (spec -> valid?): the yes/no check GitStore asks first (``schemacheck``:
  ``jsonschema-rs`` with GitStore's pattern semantics) against ``jsonschema`` (Python, the
  reference that also writes the errors), and the whole ``validate_manifest`` (schema, rules)
  on valid and on invalid products (the error path: ``jsonschema`` explains each error);
* parse + validate: ``parse_file`` end to end, as the worker runs it per file.

Manifests: the catalogue benchmark's products (``_products.product_yaml``, ~1 KB) and the
demo catalogue's (``gitstore demo``'s generator, larger: variants, Markdown-length
descriptions), written by GitStore's own encoder. Each figure is the best of ``--rounds``
(docs/s); ``ratio`` is a row's docs/s over GitStore's own path in the same run. The libraries
measured outside the project's virtualenv (rapidyaml, ryaml, fastyaml-rs, fastjsonschema) and
the decision are in docs/benchmarks.md ("Native libraries vs our fast paths").

    .venv/bin/python bench/bench_parsers.py [--quick] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import _products  # noqa: E402

from gitstore.cli.demo_catalog import build_catalog  # noqa: E402
from gitstore.domain.content import KindRegistry  # noqa: E402
from gitstore.domain.content.files import parse_file  # noqa: E402
from gitstore.domain.content.formats import (  # noqa: E402
    ManifestFormat,
    encode_manifest,
    parse_manifest,
)
from gitstore.domain.content.manifest import Manifest  # noqa: E402
from gitstore.domain.content.paths import path_for  # noqa: E402
from gitstore.domain.content.validation import validate_manifest  # noqa: E402
from gitstore.domain.content.yamlio import _load_lean, load_yaml  # noqa: E402


class Rates:
    """Timed passes over item lists, run in shuffled interleaved rounds (a shared machine's
    load then hits every row alike); each rate is items/s of its best pass."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[Callable[[Any], Any], Sequence[Any]]] = {}
        self.best: dict[str, float] = {}

    def add(self, key: str, fn: Callable[[Any], Any], items: Sequence[Any]) -> None:
        self.jobs[key] = (fn, items)
        self.best[key] = float("inf")

    def run(self, rounds: int) -> dict[str, int]:
        order = list(self.jobs)
        shuffler = random.Random(16)
        for _ in range(rounds):
            shuffler.shuffle(order)
            for key in order:
                fn, items = self.jobs[key]
                started = time.perf_counter()
                for item in items:
                    fn(item)
                self.best[key] = min(self.best[key], time.perf_counter() - started)
        return {k: round(len(self.jobs[k][1]) / self.best[k]) for k in self.jobs}


CHECK = "gitstore schemacheck (jsonschema-rs)"
REFERENCE = "jsonschema (python)"


def manifests(count: int, demo_count: int) -> dict[str, list[str]]:
    bench = [_products.product_yaml(i, 1).decode() for i in range(count)]
    demo = [
        encode_manifest(Manifest.from_object(m, "", {}), ManifestFormat.YAML).decode()
        for m in build_catalog(demo_count).products
    ]
    return {"bench": bench, "demo": demo}


# YAML on which the libraries' readings differ from GitStore's (YAML 1.1 numbers, manifest
# rules): a parser must give GitStore's data or refuse, as GitStore does, to count.
TRICKY = {
    "a: 017\n": {"a": 15},
    "a: 0o17\n": {"a": "0o17"},
    "a: 1e3\n": {"a": "1e3"},
    "a: 12:30\n": {"a": 750},
    "a: 1_000\n": {"a": 1000},
    "a: on\n": {"a": "on"},
    "a: 2024-01-31\n": {"a": "2024-01-31"},
    "a: .inf\n": None,
    "a: &x 1\nb: *x\n": None,
    "a: 1\na: 2\n": None,
    "a: 1\n---\nb: 2\n": None,
    "a: !!binary aGVsbG8=\n": None,
    "1: x\n": None,
    "a: \x00\n": None,
}


def tricky_agreement(fn: Callable[[str], Any]) -> int:
    """How many ``TRICKY`` texts ``fn`` reads as GitStore does (data, or a refusal)."""
    agreed = 0
    for text, expected in TRICKY.items():
        try:
            got = fn(text)
        except Exception:
            agreed += expected is None
            continue
        agreed += expected is not None and got == expected
    return agreed


def invalid(texts: list[str]) -> list[str]:
    """The same products, each with one schema error (a negative price)."""
    return [t.replace("amount: '", "amount: '-", 1) for t in texts]


def version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def parsers() -> dict[str, Callable[[str], Any]]:
    out: dict[str, Callable[[str], Any]] = {
        "gitstore load_yaml": lambda text: load_yaml(text, lazy_positions=True)[0],
        "gitstore lean PyYAML": _load_lean,
    }
    try:
        import yaml_rs

        out["yaml_rs"] = lambda text: yaml_rs.loads(text, parse_datetime=False)
        from _guarded_yaml import native_load

        def guarded(text: str) -> Any:
            data = native_load(text)
            return load_yaml(text, lazy_positions=True)[0] if data is None else data

        out["yaml_rs behind the guard"] = guarded
    except ImportError:
        pass
    return out


def measure(sets: dict[str, list[str]], rounds: int) -> dict[str, Any]:
    registry = KindRegistry.builtin()
    version = registry.get("Product").hub
    fast = version.fast_check
    assert fast is not None, "the product schema has a compiled check"
    reference = version.validator
    rates = Rates()
    same: dict[str, int] = {}
    for label, texts in sets.items():
        data = [load_yaml(t, lazy_positions=True)[0] for t in texts]
        for name, fn in parsers().items():
            same[f"{label}/{name}"] = sum(
                1 for t, d in zip(texts, data, strict=True) if _same(fn, t, d)
            )
            rates.add(f"{label}/parse/{name}", fn, texts)
        specs = [d["spec"] for d in data]
        assert all(fast(s) for s in specs)
        rates.add(f"{label}/check/{CHECK}", fast, specs)
        rates.add(f"{label}/check/{REFERENCE}", reference.is_valid, specs)
        paths = [path_for("Product", d["metadata"]["name"]) for d in data]
        parsed = [parse_manifest(t.encode(), p) for t, p in zip(texts, paths, strict=True)]
        broken = [parse_manifest(t.encode(), p) for t, p in zip(invalid(texts), paths, strict=True)]
        assert all(not validate_manifest(m, registry) for m in parsed)
        assert all(validate_manifest(m, registry) for m in broken)
        rates.add(f"{label}/validate/valid", lambda m: validate_manifest(m, registry), parsed)
        rates.add(f"{label}/validate/invalid", lambda m: validate_manifest(m, registry), broken)
        raw = [(p, t.encode()) for p, t in zip(paths, texts, strict=True)]
        rates.add(
            f"{label}/parse_file", lambda pc: parse_file(pc[0], "0" * 40, pc[1], registry), raw
        )
    measured = rates.run(rounds)
    figures: dict[str, Any] = {
        "tricky_yaml_agreement": {
            name: f"{tricky_agreement(fn)}/{len(TRICKY)}"
            for name, fn in parsers().items()
            if name != "gitstore lean PyYAML"  # an internal pass: hands problems to the full one
        }
    }
    for label, texts in sets.items():
        ours = measured[f"{label}/parse/gitstore load_yaml"]
        parse = {
            name: {
                "docs_per_s": measured[f"{label}/parse/{name}"],
                "ratio": round(measured[f"{label}/parse/{name}"] / ours, 2),
                "same_data": same[f"{label}/{name}"],
            }
            for name in parsers()
        }
        slow = measured[f"{label}/check/{REFERENCE}"]
        check = {
            name: {
                "docs_per_s": measured[f"{label}/check/{name}"],
                "ratio_vs_jsonschema": round(measured[f"{label}/check/{name}"] / slow, 1),
            }
            for name in (CHECK, REFERENCE)
        }
        figures[label] = {
            "documents": len(texts),
            "parse": parse,
            "schema_check": check,
            "validate_manifest_docs_per_s": {
                "valid": measured[f"{label}/validate/valid"],
                "invalid (errors explained)": measured[f"{label}/validate/invalid"],
            },
            "parse_file_docs_per_s": measured[f"{label}/parse_file"],
        }
    return figures


def _same(fn: Callable[[str], Any], text: str, expected: Any) -> bool:
    try:
        return bool(fn(text) == expected)
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    args_parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args_parser.add_argument("--quick", action="store_true", help="500 + 100 documents")
    args_parser.add_argument("--rounds", type=int, help="rounds, best taken (5; quick 2)")
    args = args_parser.parse_args(argv)
    count, demo_count = (500, 100) if args.quick else (2000, 400)
    rounds = args.rounds or (2 if args.quick else 5)
    figures: dict[str, Any] = {"benchmark": "parsers"}
    figures.update(measure(manifests(count, demo_count), rounds))
    for label in ("bench", "demo"):
        row = figures[label]
        parse = ", ".join(f"{k} {v['docs_per_s']:,}/s" for k, v in row["parse"].items())
        check = ", ".join(f"{k} {v['docs_per_s']:,}/s" for k, v in row["schema_check"].items())
        print(f"{label}: parse: {parse}; schema check: {check}", file=sys.stderr)
    figures["versions"] = {
        p: version_of(p) for p in ("pyyaml", "jsonschema", "jsonschema-rs", "yaml-rs")
    }
    figures["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
