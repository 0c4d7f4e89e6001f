"""Prometheus metrics of one worker, in a registry the caller owns.

A standalone ``gitstore worker`` serves them on ``--metrics-port``; inside ``gitstore serve``
the caller passes the registry it already serves. Label values are bounded (fixed outcome
and operation vocabularies), never repository names.

* ``gitstore_worker_events_total{outcome}``: events consumed, by what became of them:
  ``projected`` (KV written), ``unchanged`` (already at the head: redelivered or late),
  ``ignored`` (repository or branch gone), ``retried`` (nacked after a passing error),
  ``poison`` (failed for good, or on its last allowed delivery: moved to the dead letters);
* ``gitstore_worker_dead_lettered_total{cause}``: messages this worker moved to the group's
  dead letters, ``permanent`` (a permanent error) or ``budget`` (failed on its
  ``max_deliveries``-th delivery); ``gitstore_worker_dead_letters``: how many dead letters
  the group holds (sampled with the backlog; the queue also dead-letters messages over the
  delivery budget when it fetches them). Alert on ``gitstore_worker_dead_letters > 0``;
* ``gitstore_worker_projection_seconds``: one projection, from resolving the head to the last
  batch (only projections that wrote something);
* ``gitstore_worker_kv_apply_seconds``: one KV batch (``kv.apply``);
* ``gitstore_worker_documents_total{op}``: documents written (``upsert``/``delete``);
* ``gitstore_worker_validation_failures_total``: invalid files met while projecting (the
  KV keeps their last valid document);
* ``gitstore_worker_commit_statuses_total{state}``: commit statuses recorded;
* ``gitstore_worker_prepared_cache_total{result}``: planned files looked up in the cache of
  prepared files (``prepared_cache``), ``hit`` (neither fetched nor parsed) or ``miss``;
  ``gitstore_worker_prepared_cache_bytes``: the bytes it holds (its cost estimate);
* ``gitstore_worker_hook_requests_total``, ``gitstore_worker_hook_instances_total``,
  ``gitstore_worker_hook_documents_total``: conversion hook calls, wasm instances started
  (one per batch of up to 1,000 documents) and documents converted by the worker's hook
  runner (``watch_hooks``; read from ``WasmHookRunner``'s counters at scrape time);
* ``gitstore_worker_release_draft_wait_seconds{outcome}``: how long a release waited for
  the draft projection of its commit (``release_copy``), ``ready`` (the draft showed the
  commit: copied), ``gone`` (the claim ended without it), ``owner`` (taken over),
  ``stale`` (its heartbeat stopped) or ``cap`` (the bound): projected from Git after those;
* ``gitstore_worker_queue_pending``: events of the stream the group has not acked yet;
* ``gitstore_worker_queue_lag_seconds``: age (now - event timestamp) of the newest event
  taken off the queue, and ``gitstore_worker_event_age_seconds`` its distribution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from gitstore.backends.wasm.runner import WasmHookRunner

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "gitstore_worker_events", "Events consumed, by outcome", ["outcome"], registry=r
        )
        self.projection_seconds = Histogram(
            "gitstore_worker_projection_seconds",
            "Projection of one repository head into the KV store",
            buckets=_SLOW,
            registry=r,
        )
        self.kv_apply_seconds = Histogram(
            "gitstore_worker_kv_apply_seconds",
            "One KV batch apply",
            buckets=_FAST,
            registry=r,
        )
        self.documents = Counter(
            "gitstore_worker_documents",
            "Documents written to the KV store (op: upsert, delete, or copy: copied from the "
            "visible draft buffer into the standby, worker/draft_copy.py)",
            ["op"],
            registry=r,
        )
        self.validation_failures = Counter(
            "gitstore_worker_validation_failures",
            "Invalid manifest files met while projecting",
            registry=r,
        )
        self.statuses = Counter(
            "gitstore_worker_commit_statuses", "Commit statuses recorded", ["state"], registry=r
        )
        self.prepared_cache = Counter(
            "gitstore_worker_prepared_cache",
            "Files looked up in the cache of prepared files, by result",
            ["result"],
            registry=r,
        )
        self.prepared_cache_bytes = Gauge(
            "gitstore_worker_prepared_cache_bytes",
            "Bytes held by the cache of prepared files (estimate)",
            registry=r,
        )
        self.queue_pending = Gauge(
            "gitstore_worker_queue_pending",
            "Events in the stream not yet acknowledged by the worker group",
            registry=r,
        )
        self.dead_lettered = Counter(
            "gitstore_worker_dead_lettered",
            "Messages moved to the group's dead letters by this worker, by cause",
            ["cause"],
            registry=r,
        )
        self.dead_letters = Gauge(
            "gitstore_worker_dead_letters",
            "Dead letters the worker group holds (list, replay or drop them)",
            registry=r,
        )
        self.queue_lag_seconds = Gauge(
            "gitstore_worker_queue_lag_seconds",
            "Seconds between the newest consumed event's timestamp and its consumption",
            registry=r,
        )
        self.event_age_seconds = Histogram(
            "gitstore_worker_event_age_seconds",
            "Seconds between an event's timestamp and its consumption",
            buckets=_SLOW,
            registry=r,
        )
        self.release_draft_wait_seconds = Histogram(
            "gitstore_worker_release_draft_wait_seconds",
            "Seconds a release waited for the draft projection of its commit before copying "
            "the draft (worker/release_copy.py), by how the wait ended",
            ["outcome"],
            buckets=_SLOW,
            registry=r,
        )
        self.kv_write_lock_max_seconds = Gauge(
            "gitstore_worker_kv_write_lock_max_seconds",
            "Longest time the worker's KV store held its write lock at a stretch (SQLite; "
            "0 on servers without a store-wide write lock)",
            registry=r,
        )
        for outcome in ("projected", "unchanged", "ignored", "retried", "poison"):
            self.events.labels(outcome)
        for cause in ("permanent", "budget"):
            self.dead_lettered.labels(cause)
        for op in ("upsert", "delete", "copy"):
            self.documents.labels(op)
        for result in ("hit", "miss"):
            self.prepared_cache.labels(result)
        for state in ("VALID", "INVALID"):
            self.statuses.labels(state)
        self._hooks: Callable[[], WasmHookRunner | None] = lambda: None
        r.register(_HookCounters(lambda: self._hooks()))

    def watch_hooks(self, runner: Callable[[], WasmHookRunner | None]) -> None:
        """Report the counters of the hook runner ``runner()`` answers (None: none yet)."""
        self._hooks = runner


class _HookCounters(Collector):
    """The hook runner's counters, read when the registry is scraped."""

    def __init__(self, runner: Callable[[], WasmHookRunner | None]) -> None:
        self._runner = runner

    def collect(self) -> Iterator[CounterMetricFamily]:
        runner = self._runner()
        for name, what in (
            ("requests", "Conversion hook calls"),
            ("instances", "Conversion hook instances started (one per batch)"),
            ("documents", "Documents converted by conversion hooks"),
        ):
            value = getattr(runner, name) if runner is not None else 0
            yield CounterMetricFamily(f"gitstore_worker_hook_{name}", what, value=value)
