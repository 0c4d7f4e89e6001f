"""Profile: where the worker's time goes when it projects a 10,000-product commit.

Not a ``bench_*.py`` (the runner does not pick it up): a tool for working on projection
throughput, benchmark target (4) of issue 4 (products/s of a first projection against the
KV backend's ``raw_bulk_set`` floor, target >= 25 %).

A bare repository ``bench/catalog`` of ``--count`` valid Product manifests at
``products/<name>.<ext>`` (canonical bytes from ``encode_manifest``, one commit) is built
with ``git fast-import`` into the git service's repositories directory; the git service runs
as a ``gitstore git-service`` subprocess (``--service process``, like ``gitstore worker`` +
``gitstore git-service``) or in this process (``--service inproc``, like ``gitstore serve``).
Then, each on a fresh KV:

1. the phases one after another, through the worker's own functions: plan (GetChangedPaths
   from nothing), blob fetch (``changes.contents``), then, measured apart, parse, validate
   and encode (``upsert_args`` + ``encode_upsert``), and together as the worker runs them
   (``parsing.prepare_many``, one thread), batch build (``Batch.add``), KV apply (the whole
   plan in ``batch_size`` chunks);
2. end to end: ``Projector.project`` from an empty KV (what the worker does for the event);
3. the floor: ``raw_bulk_set`` of the same document bodies, keys and all, in one call.

    .venv/bin/python bench/profile_projection.py                     # 10,000 YAML, SQLite
    .venv/bin/python bench/profile_projection.py --format json --kv redis --shape full

``--shape catalog`` (default) is bench_catalog's product (``_products.py``: one image, SEO,
attributes, every third with three variants; ~0.9 KB of YAML; YAML only); ``small`` one like
the worker tests' (title, price, SKU, status, handle, categories, collections: ~270 bytes);
``full`` the content model's sample product (3 variants, options, media, attributes, SEO:
~1.9 KB). Last line: the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from _service import GitServiceProcess

from gitstore.backends.kv import Batch, KvStore, encode_upsert, open_kv_store
from gitstore.config import load_settings
from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestFormat,
    encode_manifest,
    parse_manifest,
    path_for,
    validate_manifest,
)
from gitstore.domain.projection import DRAFT_VIEW, draft_scope, draft_view
from gitstore.git.client import GitClient
from gitstore.worker.changes import contents, plan_changes
from gitstore.worker.parsing import parse_many, prepare_many, upsert_args
from gitstore.worker.pool import PreparePool
from gitstore.worker.projector import Projector

T = TypeVar("T")
REPOSITORY = "bench/catalog"
REGISTRY = KindRegistry.builtin()
_CATEGORIES = ("sweaters", "knitwear", "shirts", "outerwear", "shoes", "bags", "home", "kitchen")
_COLLECTIONS = ("autumn-essentials", "bestsellers", "new-in", "sale")
_STATUSES = ("active", "active", "active", "draft", "archived")
_CURRENCIES = ("EUR", "USD", "GBP")


# ---------------------------------------------------------------------- the catalogue


def product(i: int, shape: str) -> dict[str, Any]:
    name = f"product-{i:06d}"
    cur = _CURRENCIES[i % 3]
    price = f"{10 + i % 490}.{i % 100:02d}"
    spec: dict[str, Any] = {
        "title": f"Product {i}",
        "handle": name,
        "status": _STATUSES[i % len(_STATUSES)],
        "price": {"amount": price, "currency": cur},
        "sku": f"SKU-{i:06d}",
        "categories": [_CATEGORIES[i % 8], _CATEGORIES[(i // 8) % 8 or 1]][: 1 + i % 2],
        "collections": [_COLLECTIONS[i % 4]],
    }
    if len(set(spec["categories"])) < len(spec["categories"]):
        spec["categories"] = spec["categories"][:1]
    metadata: dict[str, Any] = {"name": name}
    if shape == "full":
        metadata["labels"] = {"team": "knitwear", "gitstore.dev/season": "aw25"}
        metadata["annotations"] = {"notes": "Bestseller; restock before November."}
        spec.update(
            description=f"Soft **extra-fine merino**, item {i}.\n\n- Machine washable\n"
            "- Made in Portugal",
            vendor="Northwind Knits",
            productType="Sweaters",
            compareAtPrice={"amount": f"{600 + i % 100}.00", "currency": cur},
            options=[
                {"name": "size", "values": ["S", "M", "L"]},
                {"name": "colour", "values": ["navy", "oatmeal"]},
            ],
            variants=[
                {
                    "sku": f"SKU-{i:06d}-{size}-{colour[:3].upper()}",
                    "title": f"{size} / {colour}",
                    "options": {"size": size, "colour": colour},
                    "price": {"amount": price, "currency": cur},
                    "inventoryPolicy": "deny",
                    "inventoryQuantity": (i * 7 + n) % 40,
                    "barcode": f"40063813{i:05d}{n}",
                    "weight": {"value": "0.35", "unit": "kg"},
                }
                for n, (size, colour) in enumerate((("S", "navy"), ("M", "navy"), ("L", "oatmeal")))
            ],
            media=[
                {
                    "url": f"https://cdn.example.com/p/{i}/front.jpg",
                    "alt": "Front",
                    "type": "image",
                },
                {"url": f"media/p/{i}/360.mp4", "type": "video"},
            ],
            tags=["merino", "bestseller", f"batch-{i % 50}"],
            attributes={"material": "100% merino wool", "gsm": 280, "machineWashable": True},
            seo={"title": f"Product {i} | Northwind", "description": "Extra-fine merino."},
        )
    return {"apiVersion": "gitstore.dev/v1", "kind": "Product", "metadata": metadata, "spec": spec}


def files(count: int, shape: str, fmt: ManifestFormat) -> Iterator[tuple[str, bytes]]:
    if shape == "catalog":  # bench_catalog's products (YAML only)
        import _products

        for i in range(count):
            yield _products.product_path(i), _products.product_yaml(i)
        return
    for i in range(count):
        m = Manifest.from_object(product(i, shape))
        yield (
            path_for("Product", m.name, fmt, REGISTRY),
            encode_manifest(m, fmt, schema=REGISTRY.schema_for(m)),
        )


def build_repo(dest: Path, entries: Iterator[tuple[str, bytes]]) -> int:
    """A bare repository at ``dest`` holding ``entries`` in one commit on main; total bytes."""
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(dest)], check=True
    )
    ident = "Bench <bench@example.com> 1700000000 +0000"
    message = b"Import the catalogue\n"
    total = 0
    with subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"],
        env={**os.environ, "GIT_DIR": str(dest)},
        stdin=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None
        proc.stdin.write(
            f"commit refs/heads/main\nauthor {ident}\ncommitter {ident}\n"
            f"data {len(message)}\n".encode()
            + message
        )
        for path, content in entries:
            total += len(content)
            proc.stdin.write(f"M 100644 inline {path}\ndata {len(content)}\n".encode())
            proc.stdin.write(content + b"\n")
        proc.stdin.write(b"\ndone\n")
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError("git fast-import failed")
    for i in range(256):  # as the git service lays out its repositories
        (dest / "objects" / f"{i:02x}").mkdir(exist_ok=True)
    return total


# ---------------------------------------------------------------------- measuring


async def timed(fn: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, float]:
    start = time.perf_counter()
    result = await fn()
    return result, time.perf_counter() - start


class Phases:
    """Wall and CPU seconds (this process, all threads) of named phases."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    async def run(self, name: str, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        result = await fn()
        self.wall[name] = time.perf_counter() - wall
        self.cpu[name] = time.process_time() - cpu
        return result

    def call(self, name: str, fn: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        self.wall[name] = time.perf_counter() - wall
        self.cpu[name] = time.process_time() - cpu
        return result


class KvFactory:
    """Fresh, empty KV stores of one backend, removed at the end."""

    def __init__(self, backend: str, scratch: Path) -> None:
        self.backend = backend
        self.scratch = scratch
        self.opened: list[KvStore] = []
        self.prefixes: list[str] = []

    async def fresh(self) -> KvStore:
        if self.backend == "sqlite":
            url = f"sqlite:///{self.scratch / f'kv-{len(self.opened)}.sqlite3'}"
        else:
            prefix = f"profile-{uuid.uuid4().hex[:8]}:"
            self.prefixes.append(prefix)
            url = f"{os.environ.get('GITSTORE_TEST_REDIS_URL', 'redis://127.0.0.1:6379/15')}"
            url += f"?prefix={prefix}"
        store = await open_kv_store(url)
        await store.ping()
        self.opened.append(store)
        return store

    async def close(self) -> None:
        for store in self.opened:
            await store.close()
        if self.prefixes:
            import redis

            client = redis.Redis.from_url(
                os.environ.get("GITSTORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
            )
            for prefix in self.prefixes:
                keys = list(client.scan_iter(match=f"{prefix}*", count=5000))
                for start in range(0, len(keys), 5000):
                    client.delete(*keys[start : start + 5000])
            client.close()


async def phases(git: GitClient, kv: KvStore, batch_size: int) -> Phases:
    """Each phase of a first projection on its own, through the worker's functions."""
    out = Phases()
    target = (await git.resolve_revision(REPOSITORY, "HEAD")).commit_sha
    plan = await out.run(
        "plan", lambda: plan_changes(git, REPOSITORY, base=None, target=target, registry=REGISTRY)
    )
    ids = [u.blob_id for u in plan.upserts]
    fetched = await out.run("fetch", lambda: contents(git, REPOSITORY, ids))
    items = [(u.path, u.blob_id, fetched[u.blob_id]) for u in plan.upserts]
    gc.collect()
    manifests = out.call(
        "parse", lambda: [parse_manifest(c, p, max_bytes=1 << 20) for p, _, c in items]
    )
    out.call("validate", lambda: [validate_manifest(m, REGISTRY) for m in manifests])
    manifests.clear()
    parsed = parse_many(items, REGISTRY)
    assert all(p.valid for p in parsed), [p.errors for p in parsed if not p.valid][:1]

    def encode() -> None:
        for p in parsed:
            kind, name, value, indexes = upsert_args(p)
            encode_upsert(kind, name, value, indexes=indexes)

    out.call("encode", encode)
    parsed.clear()
    gc.collect()
    prepared = out.call("prepare", lambda: prepare_many(items, REGISTRY))
    scope = draft_scope(REPOSITORY)

    def build() -> list[Batch]:
        batches = []
        for start in range(0, len(prepared), batch_size):
            last = start + batch_size >= len(prepared)
            batch = Batch(scope, 1, target, advance_head=last)
            for p in prepared[start : start + batch_size]:
                assert p.upsert is not None
                batch.add(p.upsert)
            batches.append(batch)
        return batches

    batches = out.call("build", build)

    async def apply() -> None:
        for batch in batches:
            await kv.apply(batch)

    await out.run("apply", apply)
    return out


async def floor(kv: KvStore) -> float:
    """Seconds for ``raw_bulk_set`` of the documents a projection writes (keys + bodies)."""
    scope = draft_view(await kv.resolve(REPOSITORY, DRAFT_VIEW))  # the buffer it filled
    pairs: list[tuple[str, bytes]] = []
    after: str | None = None
    while True:
        page = await kv.list_documents(scope, "product", first=1000, after=after)
        pairs.extend((scope.key("product", d.name), d.body) for d in page.items)
        if not page.has_next_page:
            break
        after = page.end_cursor
    _, seconds = await timed(lambda: kv.raw_bulk_set(pairs))
    await kv.raw_bulk_delete([k for k, _ in pairs])
    return seconds


async def run(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    fmt = ManifestFormat(args.format)
    repos = scratch / "repos"
    (repos / "bench").mkdir(parents=True)
    started = time.perf_counter()
    total = build_repo(repos / "bench" / "catalog.git", files(args.count, args.shape, fmt))
    print(
        f"built {args.count} {fmt.value} products ({total / args.count:.0f} B avg) in "
        f"{time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    handle = None
    service = None
    if args.service == "inproc":
        from gitstore.gitservice.server import start_server

        settings = load_settings(
            data_dir=str(scratch / "data"), **{"git.data_dir": str(repos), "grpc.port": 0}
        )
        handle = start_server(settings)
        address = f"127.0.0.1:{handle.port}"
    else:
        service = GitServiceProcess(scratch, repos)
        service.start([REPOSITORY])
        address = service.address
    kvs = KvFactory(args.kv, scratch)
    figures: dict[str, Any] = {}
    try:
        async with GitClient(address, timeout=600) as git:
            phase_runs = []
            e2e_runs: dict[int, list[float]] = {}
            e2e_cpu: dict[int, list[float]] = {}  # this process, all threads
            floor_runs = []
            pools: dict[int, PreparePool] = {}
            for _ in range(args.runs):
                if not args.e2e_only:
                    kv = await kvs.fresh()
                    phase_runs.append(await phases(git, kv, args.batch_size))
                    floor_runs.append(await floor(kv))
                for processes in args.processes:
                    kv2 = await kvs.fresh()
                    projector = Projector(
                        git,
                        kv2,
                        owner="profile",
                        batch_size=args.batch_size,
                        pool=pools.setdefault(processes, PreparePool(processes)),
                    )
                    if processes:
                        await projector.pool.warm()
                    started_cpu = time.process_time()
                    result, seconds = await timed(lambda: projector.project(REPOSITORY))
                    spent = time.process_time() - started_cpu
                    assert result.upserts == args.count and not result.invalid, result
                    e2e_runs.setdefault(processes, []).append(seconds)
                    e2e_cpu.setdefault(processes, []).append(spent)
                    floor_runs.append(await floor(kv2))
    finally:
        for pool in pools.values():
            await pool.close()
        await kvs.close()
        if handle is not None:
            handle.stop()
        if service is not None:
            service.stop()
    n = args.count
    wall = {k: min(r.wall[k] for r in phase_runs) for k in phase_runs[0].wall} if phase_runs else {}
    cpu = {k: min(r.cpu[k] for r in phase_runs) for k in phase_runs[0].cpu} if phase_runs else {}
    e2e = min(min(runs) for runs in e2e_runs.values())
    raw = min(floor_runs)
    figures = {
        "count": n,
        "format": fmt.value,
        "shape": args.shape,
        "kv": args.kv,
        "yaml_reader": "pyyaml" if args.reference_yaml else "blockyaml",
        "service": args.service,
        "runs": args.runs,
        "avg_bytes": round(total / n),
        "phases_wall_ms": {k: round(v * 1000, 1) for k, v in wall.items()},
        "phases_cpu_ms": {k: round(v * 1000, 1) for k, v in cpu.items()},
        "e2e_seconds": {
            f"processes={k}": sorted(round(x, 3) for x in runs) for k, runs in e2e_runs.items()
        },
        "e2e_cpu_seconds": {
            f"processes={k}": sorted(round(x, 3) for x in runs) for k, runs in e2e_cpu.items()
        },
        "products_per_s": round(n / e2e),
        "raw_floor_pairs_per_s": round(n / raw),
        "ratio": round((n / e2e) / (n / raw), 3),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    return figures


def report(fig: dict[str, Any]) -> None:
    n = fig["count"]
    print(
        f"\n{n} {fig['shape']} {fig['format']} products, KV {fig['kv']}, git service "
        f"{fig['service']} ({fig['avg_bytes']} B per file), best of {fig['runs']}"
    )
    print(f"{'phase':<10}{'wall ms':>10}{'cpu ms':>10}{'us/product':>12}{'products/s':>12}")
    for phase, ms in fig["phases_wall_ms"].items():
        cpu = fig["phases_cpu_ms"][phase]
        rate = n / (ms / 1000) if ms else float("inf")
        print(f"{phase:<10}{ms:>10.1f}{cpu:>10.1f}{ms * 1000 / n:>12.1f}{rate:>12.0f}")
    print(
        f"end to end (best): {fig['products_per_s']} products/s; raw floor "
        f"{fig['raw_floor_pairs_per_s']} pairs/s; ratio {fig['ratio']:.1%} (target 25%)"
    )
    for label, runs in fig["e2e_seconds"].items():
        print(f"  {label}: " + ", ".join(f"{x:.3f}s = {n / x:.0f}/s" for x in runs))
        cpu = fig["e2e_cpu_seconds"][label]
        print(f"  {label}, CPU of this process: " + ", ".join(f"{x:.3f}s" for x in cpu))
    print(json.dumps(fig))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--format", choices=["yaml", "json", "markdown"], default="yaml")
    parser.add_argument("--shape", choices=["small", "catalog", "full"], default="catalog")
    parser.add_argument("--kv", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--service", choices=["process", "inproc"], default="process")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--e2e-only", action="store_true", help="skip the phase breakdown")
    parser.add_argument(
        "--reference-yaml",
        action="store_true",
        help="parse YAML with the PyYAML passes only (blockyaml's fast reader off), for A/B",
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[0, 2],
        help="end to end with these PreparePool sizes (0 = a thread), interleaved",
    )
    args = parser.parse_args()
    if args.reference_yaml:
        from gitstore.domain.content import yamlio

        setattr(yamlio, "fast_load", lambda text, resolve: None)  # the PyYAML passes only
    with tempfile.TemporaryDirectory(prefix="profile-projection-") as tmp:
        report(asyncio.run(run(args, Path(tmp))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
