"""The four measurements of the catalogue benchmark, on one running ``gitstore serve``.

``Session`` holds what every measurement needs: the server, an admin token, a gRPC stub to
the server's own git service (the floor of (1) and the writer of (4)'s bulk commit) and the
benchmark's own client of the server's KV store (to see when a commit became visible, and
for the raw bulk-write floor of (4)). Its KV calls run on a private asyncio runner; HTTP
and gRPC calls are plain blocking calls on keep-alive connections, timed around the call.

* ``initial_projection`` — setup: one upsert makes the worker project the whole injected
  fixture (its first event of the repository); timed from the ack to the KV head naming it.
* ``commits`` — (1) and (2): rounds of one ``upsertProduct`` over HTTP (no
  ``waitForIndex``) and one ``CommitFiles`` UPSERT of the same kind of manifest straight to
  the git service, in shuffled order. After each commit the KV ``draft`` head is polled
  every ``poll_ms`` until it names the new commit: that is the indexing lag. The next commit
  starts only then, so every commit is timed on an idle worker. After each mutation's commit
  the storefront is read once (``catalog { product(name:) { version } }``) to confirm it
  serves the new version.
* ``storefront`` — (3): time-boxed phases of ``product(id:)`` over GraphQL and of the raw
  floor route (``/storefront/raw/...``), same products, same load generator, interleaved in
  shuffled rounds.
* ``bulk`` — (4): one commit upserting ``bulk`` products, made with ``git fast-import`` and
  announced by a ``CreateTag`` event (or one ``CommitFiles``); throughput = products /
  (announcement -> KV head names the commit). The floor: ``KvStore.raw_bulk_set`` of the
  same number of the documents the worker just wrote (their exact bytes), right after.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _catalog
import _products
import grpc
from _loadgen import LoadGenerator, PhaseResult, request_bytes
from _serve import Http, ServeProcess

from gitstore.api.catalog.ids import encode_resource_id
from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.kv.sqlite import SqliteKvStore
from gitstore.domain.errors import Unavailable
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import DRAFT_VIEW, draft_view
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc

REPOSITORY = "bench/catalog"
SCOPE = ChannelScope(REPOSITORY, "draft")  # no alias: the draft buffer readers see


async def _visible(kv: KvStore) -> ChannelScope:
    """The draft buffer storefronts read (``draft`` or ``draft-b``, alias ``draft-view``)."""
    return draft_view(await kv.resolve(REPOSITORY, DRAFT_VIEW))


async def _visible_head(kv: KvStore) -> Any:
    return await kv.head(await _visible(kv))


async def _visible_get_many(kv: KvStore, names: list[str]) -> list[Any]:
    return await kv.get_many(await _visible(kv), "product", names)


UPSERT = """mutation Upsert($input: UpsertProductInput!) {
  upsertProduct(input: $input) {
    commit committed indexing { state } userErrors { field message code }
  }
}"""
VERSION = """query V($repo: String!, $name: String!) {
  catalog(repository: $repo) { product(name: $name) { version } }
}"""
PRODUCT_FIELDS = """id name version path labels
    title handle status description vendor productType
    price { amount currency } compareAtPrice { amount currency } sku
    options { name values }
    variants { sku title options price { amount currency } inventoryPolicy inventoryQuantity }
    media { url alt type } categories collections tags attributes
    seo { title description }"""
BY_ID = f"""query Product($repo: String!, $id: ID!) {{
  catalog(repository: $repo) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}
}}"""


# what the server says its parts took during (1)/(2): mean per call over the measured rounds
SERVER_TIMERS = [
    f"gitstore_{name}_{part}"
    for name in (
        "api_mutation_duration_seconds",
        "api_commit_duration_seconds",
        "worker_projection_seconds",
        "worker_kv_apply_seconds",
    )
    for part in ("sum", "count")
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class CommitFigures:
    ack_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)


class Session:
    def __init__(self, server: ServeProcess, token: str, kv_url: str, poll_ms: float) -> None:
        self.server = server
        self.token = token
        self.poll = poll_ms / 1000
        self.runner = asyncio.Runner()
        self.kv: KvStore = self.runner.run(open_kv_store(kv_url))
        self.channel = grpc.insecure_channel(
            server.grpc_address,
            options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
        )
        self.stub = pb_grpc.GitServiceStub(self.channel)
        self.http = Http(server.api_port, token)
        self.revision = 0
        self.stale_reads = 0
        self.server_timers: dict[str, float] = {}

    def close(self) -> None:
        self.http.close()
        self.channel.close()
        self.runner.run(self.kv.close())
        self.runner.close()

    # ------------------------------------------------------------------ primitives
    def head_version(self) -> str | None:
        head = self.runner.run(_visible_head(self.kv))
        return head.version if head is not None else None

    def wait_visible(
        self, sha: str, since: float, timeout: float, poll: float | None = None
    ) -> float:
        """Seconds from ``since`` (perf_counter) until the KV head names ``sha``."""
        interval = self.poll if poll is None else poll
        deadline = since + timeout
        while True:
            if self.head_version() == sha:
                return time.perf_counter() - since
            now = time.perf_counter()
            if now > deadline:
                raise TimeoutError(f"commit {sha} not visible in the KV after {timeout:.0f}s")
            time.sleep(interval)

    def next_revision(self) -> int:
        self.revision += 1
        return self.revision

    def upsert(self, index: int) -> tuple[float, str]:
        """One ``upsertProduct`` over HTTP: (ack ms, commit)."""
        revision = self.next_revision()
        variables = {
            "input": {
                "repository": REPOSITORY,
                "name": _products.product_name(index),
                "labels": _products.product_labels(index),
                "spec": _products.product_spec(index, revision),
            }
        }
        body = json.dumps({"query": UPSERT, "variables": variables}).encode()
        self.http.ensure_fresh()
        started = time.perf_counter()
        status, raw = self.http.post("/graphql", body)
        elapsed = (time.perf_counter() - started) * 1000
        answer = json.loads(raw)
        payload = (answer.get("data") or {}).get("upsertProduct") or {}
        if status != 200 or answer.get("errors") or payload.get("userErrors"):
            raise RuntimeError(f"upsertProduct failed: HTTP {status} {raw[:500]!r}")
        if not payload.get("committed"):
            raise RuntimeError(f"upsertProduct made no commit: {payload}")
        return elapsed, str(payload["commit"])

    def commit_files(self, indices: list[int], message: str) -> tuple[float, str]:
        """``CommitFiles`` with one UPSERT per product, straight to the git service."""
        revision = self.next_revision()
        request = pb.CommitFilesRequest(
            repository_id=REPOSITORY,
            branch="main",
            author=pb.Signature(name="bench", email="bench@example.com"),
            message=message,
            trailers=pb.Trailers(actor="bench", request_id=f"bench-{revision}"),
            actions=[
                pb.CommitAction(
                    action=pb.ACTION_TYPE_UPSERT,
                    path=_products.product_path(i),
                    content=_products.product_yaml(i, revision),
                )
                for i in indices
            ],
        )
        started = time.perf_counter()
        response = self.stub.CommitFiles(request, timeout=600)
        return (time.perf_counter() - started) * 1000, str(response.commit_sha)

    def storefront_version(self, index: int) -> str | None:
        data = self.http.graphql(
            VERSION, {"repo": REPOSITORY, "name": _products.product_name(index)}
        )
        product = data["catalog"]["product"]
        return product["version"] if product else None

    def metrics(self, names: list[str]) -> dict[str, float]:
        """Each metric of ``names`` from the server's ``/metrics``, summed over its labels."""
        self.http.ensure_fresh()
        status, raw = self.http.get("/metrics")
        totals = dict.fromkeys(names, float("nan") if status != 200 else 0.0)
        for line in raw.decode().splitlines() if status == 200 else []:
            match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)$", line)
            if match and match.group(1) in totals:
                totals[match.group(1)] += float(match.group(2))
        return totals

    def documents_by_op(self) -> dict[str, float]:
        """``gitstore_worker_documents_total`` per ``op`` label (upsert, delete, copy)."""
        self.http.ensure_fresh()
        status, raw = self.http.get("/metrics")
        found: dict[str, float] = {}
        for line in raw.decode().splitlines() if status == 200 else []:
            match = re.match(r'gitstore_worker_documents_total\{op="(\w+)"\} (\S+)$', line)
            if match:
                found[match.group(1)] = float(match.group(2))
        return found

    def worker_metric(self, name: str) -> float:
        return self.metrics([name])[name]

    def _metric_moved(self, name: str, before: float, wait: float = 10.0) -> float:
        """How far metric ``name`` moved from ``before`` (the worker records a projection's
        time just after its last write, so give it a moment)."""
        deadline = time.monotonic() + wait
        while True:
            moved = self.worker_metric(name) - before
            if moved > 0 or time.monotonic() > deadline:
                return moved
            time.sleep(0.05)

    # ------------------------------------------------------------------ setup
    def initial_projection(self, products: int, timeout: float) -> dict[str, Any]:
        ack_ms, sha = self.upsert(0)
        started = time.perf_counter() - ack_ms / 1000
        log(f"  initial projection of {products:,} products (commit {sha[:12]}) ...")
        seconds = self.wait_visible(sha, started, timeout, poll=0.05)
        rate = products / seconds
        log(f"  initial projection: {seconds:.1f} s ({rate:,.0f} products/s)")
        return {"seconds": round(seconds, 2), "products_per_s": round(rate, 1)}

    # ------------------------------------------------------------------ (1) and (2)
    def commits(
        self, pool: list[int], iterations: int, warmup: int, seed: int, budget: float
    ) -> dict[str, CommitFigures]:
        """Up to ``iterations`` measured rounds, fewer if they take over ``budget`` seconds
        (at least 10)."""
        figures = {"upsert": CommitFigures(), "grpc": CommitFigures()}
        before: dict[str, float] = {}
        shuffler = random.Random(seed)
        picks = iter(pool)
        timeout = 120.0
        deadline: float | None = None
        for number in range(warmup + iterations):
            record = number >= warmup
            if number == warmup:
                deadline = time.monotonic() + budget
                before = self.metrics(SERVER_TIMERS)
            if deadline is not None and number - warmup >= 10 and time.monotonic() > deadline:
                log(f"  commits: stopping after {number - warmup} rounds (--commit-seconds)")
                break
            order = list(figures)
            shuffler.shuffle(order)
            for key in order:
                index = next(picks)
                if key == "upsert":
                    ack_ms, sha = self.upsert(index)
                else:
                    ack_ms, sha = self.commit_files([index], f"upsert Product {index}")
                lag = self.wait_visible(sha, time.perf_counter(), timeout) * 1000
                if key == "upsert" and self.storefront_version(index) != sha:
                    self.stale_reads += 1
                if record:
                    figures[key].ack_ms.append(ack_ms)
                    figures[key].lag_ms.append(lag)
            if number + 1 == warmup or (number + 1 - warmup) % 10 == 0:
                done = max(0, number + 1 - warmup)
                log(f"  commits: {done}/{iterations} rounds (warm-up {warmup})")
        after = self.metrics(SERVER_TIMERS)
        self.server_timers = {
            name.removesuffix("_sum").removeprefix("gitstore_") + "_mean_ms": round(
                (after[name] - before[name])
                / max(1.0, after[name[:-4] + "_count"] - before[name[:-4] + "_count"])
                * 1000,
                2,
            )
            for name in SERVER_TIMERS
            if name.endswith("_sum")
        }
        upsert, grpc_ = figures["upsert"], figures["grpc"]
        log(
            f"  commits: {len(upsert.ack_ms)} rounds; p50 ack upsertProduct"
            f" {sorted(upsert.ack_ms)[len(upsert.ack_ms) // 2]:.0f} ms,"
            f" CommitFiles {sorted(grpc_.ack_ms)[len(grpc_.ack_ms) // 2]:.0f} ms"
        )
        return figures

    # ------------------------------------------------------------------ (3)
    def check_same_document(self, index: int) -> None:
        """The GraphQL answer and the floor route serve the same KV document."""
        name = _products.product_name(index)
        self.http.ensure_fresh()
        status, raw = self.http.get(f"/storefront/raw/{REPOSITORY}/product/{name}")
        if status != 200:
            raise RuntimeError(f"floor route: HTTP {status} {raw[:300]!r}")
        floor = json.loads(raw)
        product = self.http.graphql(
            BY_ID, {"repo": REPOSITORY, "id": encode_resource_id("Product", REPOSITORY, name)}
        )["catalog"]["product"]
        spec = floor["document"]["spec"]
        same = (
            product["version"] == floor["version"]
            and product["title"] == spec["title"]
            and product["price"] == spec["price"]
            and [v["sku"] for v in product["variants"] or []]
            == [v["sku"] for v in spec.get("variants", [])]
        )
        if not same:
            raise RuntimeError(f"GraphQL and floor disagree on {name}: {product} vs {floor}")

    def storefront(
        self, load: LoadGenerator, pool: list[int], rounds: int, seconds: float, seed: int
    ) -> dict[str, PhaseResult]:
        port = self.server.api_port
        names = [_products.product_name(i) for i in pool]
        for index in pool[:5]:
            self.check_same_document(index)
        expect = [f'"name":"{name}"'.encode() for name in names]
        graphql = [
            request_bytes(
                port,
                "POST",
                "/graphql",
                json.dumps(
                    {
                        "query": BY_ID,
                        "variables": {
                            "repo": REPOSITORY,
                            "id": encode_resource_id("Product", REPOSITORY, name),
                        },
                    }
                ).encode(),
            )
            for name in names
        ]
        floor = [
            request_bytes(port, "GET", f"/storefront/raw/{REPOSITORY}/product/{name}")
            for name in names
        ]
        phases = {"graphql": graphql, "floor": floor}
        results = {key: PhaseResult() for key in phases}
        for key, requests in phases.items():  # warm-up: connections, caches, lazy imports
            load.run(port, requests, expect, min(1.0, seconds))
        shuffler = random.Random(seed)
        for number in range(rounds):
            order = list(phases)
            shuffler.shuffle(order)
            for key in order:
                results[key].add(load.run(port, phases[key], expect, seconds))
            log(
                f"  storefront: round {number + 1}/{rounds}: "
                + ", ".join(f"{k} {r.rps:,.0f} req/s" for k, r in results.items())
            )
        return results

    # ------------------------------------------------------------------ (4)
    def _bulk_commit(self, indices: list[int], via: str) -> tuple[float, str, float]:
        """Make the bulk commit; (seconds it took, its id, perf_counter when it was announced).

        ``grpc``: one ``CommitFiles`` (announced when acknowledged). ``import``: ``git
        fast-import`` of the commit into the bare repository, the branch moved to it with a
        compare-and-swap ``git update-ref``, then a ``CreateTag`` through the git service so
        that an event tells the worker the repository changed (tag events only trigger the
        convergence check; no commit status work follows)."""
        if via == "grpc":
            commit_ms, sha = self.commit_files(indices, f"bulk update of {len(indices)} products")
            return commit_ms / 1000, sha, time.perf_counter()
        revision = self.next_revision()
        head = self.stub.ResolveRevision(
            pb.ResolveRevisionRequest(repository_id=REPOSITORY, revision="main"), timeout=30
        ).commit_sha
        repo = self.server.repo_dir(REPOSITORY)
        started = time.perf_counter()
        sha = _catalog.import_commit(
            repo,
            "refs/bench/bulk",
            head,
            ((_products.product_path(i), _products.product_yaml(i, revision)) for i in indices),
            f"bulk update of {len(indices)} products",
        )
        subprocess.run(
            ["git", "--git-dir", str(repo), "update-ref", "refs/heads/main", sha, head],
            check=True,
            capture_output=True,
        )
        built = time.perf_counter() - started
        self.stub.CreateTag(
            pb.CreateTagRequest(
                repository_id=REPOSITORY,
                tag=f"bench-bulk-{revision}",
                revision=sha,
                message="bench: bulk commit",
                tagger=pb.Signature(name="bench", email="bench@example.com"),
            ),
            timeout=60,
        )
        return built, sha, time.perf_counter()

    def _documents(self, names: list[str], sha: str) -> tuple[list[bytes], int]:
        """The stored bodies of ``names`` and how many of them are stamped with ``sha``."""
        bodies: list[bytes] = []
        done = 0
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            for name, document in zip(
                chunk, self.runner.run(_visible_get_many(self.kv, chunk)), strict=True
            ):
                if document is None:
                    raise RuntimeError(f"product {name} is not in the KV store")
                bodies.append(document.body)
                done += document.version == sha
        return bodies, done

    def _raw_bulk_set(self, pairs: list[tuple[str, bytes]], patience: float = 120.0) -> float:
        """Seconds one raw bulk write of ``pairs`` takes. The server's worker may still hold
        SQLite's write lock after the projection became visible (statuses, pruning, the
        standby buffer of a switched commit): wait for it rather than fail the run."""
        deadline = time.monotonic() + patience
        while True:
            started = time.perf_counter()
            try:
                self.runner.run(self.kv.raw_bulk_set(pairs))
            except Unavailable as exc:
                if time.monotonic() > deadline:
                    raise
                log(f"  raw_bulk_set floor waits for the server's writes: {exc}")
                continue
            return time.perf_counter() - started

    def bulk(self, indices: list[int], via: str, timeout: float, floor_runs: int) -> dict[str, Any]:
        names = [_products.product_name(i) for i in indices]
        timers = ["gitstore_worker_projection_seconds_sum", "gitstore_worker_kv_apply_seconds_sum"]
        before = self.metrics(timers)
        written = self.documents_by_op()
        probe = LockProbe.start(self.kv)
        commit_seconds, sha, announced = self._bulk_commit(indices, via)
        log(
            f"  bulk commit of {len(indices):,} products ({via}): {commit_seconds:.1f} s;"
            " projecting ..."
        )
        finished = True
        try:
            seconds = self.wait_visible(sha, announced, timeout, poll=0.01)
        except TimeoutError:
            finished, seconds = False, time.perf_counter() - announced
        lock_wait_ms = probe.stop() if probe is not None else None
        held = self.worker_metric("gitstore_worker_kv_write_lock_max_seconds")
        bodies, done = self._documents(names, sha)
        if finished and done != len(names):
            raise RuntimeError(f"head is at {sha} but only {done} of {len(names)} are")
        worker_seconds = self._metric_moved(timers[0], before[timers[0]])
        kv_seconds = self.metrics(timers)[timers[1]] - before[timers[1]]
        moved = {op: n - written.get(op, 0.0) for op, n in self.documents_by_op().items()}
        # the floor writes the same documents: the projected bodies (for an unfinished
        # projection, the stored bodies of the same products: a few bytes different)
        pairs = [
            (f"{REPOSITORY}:rawfloor:product:{name}", body)
            for name, body in zip(names, bodies, strict=True)
        ]
        floor_seconds: list[float] = []
        for _ in range(floor_runs):
            floor_seconds.append(self._raw_bulk_set(pairs))
            self.runner.run(self.kv.raw_bulk_delete([key for key, _ in pairs]))
        floor = sorted(floor_seconds)[len(floor_seconds) // 2]
        rate, floor_rate = done / seconds, len(pairs) / floor
        state = "" if finished else f" UNFINISHED after {timeout:.0f} s ({done:,} written)"
        log(
            f"  bulk projection: {seconds:.2f} s ({rate:,.0f} products/s){state}; "
            f"raw_bulk_set floor {floor:.3f} s ({floor_rate:,.0f}/s)"
        )
        return {
            "products": len(indices),
            "commit_via": via,
            "commit_seconds": round(commit_seconds, 3),
            "finished": finished,
            "products_projected": done,
            "projection_seconds": round(seconds, 3),
            "worker_projection_seconds": round(worker_seconds, 3) if finished else None,
            "worker_kv_apply_seconds": round(kv_seconds, 3) if finished else None,
            "products_per_s": round(rate, 1),
            "document_bytes_avg": round(sum(len(b) for _, b in pairs) / len(pairs), 1),
            "floor_raw_bulk_set_seconds": round(floor, 4),
            "floor_raw_bulk_set_runs_seconds": [round(s, 4) for s in floor_seconds],
            "floor_docs_per_s": round(floor_rate, 1),
            # SQLite: the longest a one-row write transaction of another process waited for
            # the write lock during the projection (LockProbe); None on other backends
            "kv_write_lock_wait_max_ms": lock_wait_ms,
            # SQLite: the longest the worker held the write lock at a stretch (so far in the
            # run: (4) is its largest write; gitstore_worker_kv_write_lock_max_seconds)
            "worker_kv_write_lock_max_ms": round(held * 1000, 1) if held else None,
            # what the worker wrote: documents projected from Git (upsert, delete) and copied
            # from the visible draft buffer (copy, worker/draft_copy.py)
            "worker_documents": {op: int(n) for op, n in sorted(moved.items()) if n},
        }


class LockProbe:
    """Another writer of the SQLite KV file during (4): a thread that commits a tiny write
    transaction (``BEGIN IMMEDIATE`` + ``COMMIT``) every 20 ms and records the longest wait
    for the write lock — how long the server kept other writers out at a stretch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kv-lock-probe", daemon=True)

    @classmethod
    def start(cls, kv: KvStore) -> LockProbe | None:
        if not isinstance(kv, SqliteKvStore):
            return None
        probe = cls(kv.path)
        probe._thread.start()
        return probe

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=300.0)
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                self.longest = max(self.longest, time.perf_counter() - started)
                conn.execute("COMMIT")
                self._stop.wait(0.02)
        finally:
            conn.close()

    def stop(self) -> float:
        """Stop; the longest wait in ms."""
        self._stop.set()
        self._thread.join()
        return round(self.longest * 1000, 1)
