"""Metrics of catalogue mutations, registered in the API app's own registry (``/metrics``).

* ``gitstore_api_mutation_duration_seconds{mutation,outcome}`` — the whole mutation as the
  resolver sees it (validation, idempotency, git reads, commit, optional index wait);
  ``outcome`` is ``ok``, ``user_error`` (answered with ``userErrors``), ``replayed`` (an
  idempotent replay) or ``error``;
* ``gitstore_api_commit_duration_seconds{outcome}`` — the ``CommitFiles`` gRPC call alone
  (``ok``, ``stale`` for a lost compare-and-swap, ``error``): the floor the mutation is
  measured against;
* ``gitstore_api_commit_retries_total`` — check-and-commit rounds repeated because another
  commit moved the branch in between;
* ``gitstore_api_index_wait_seconds{outcome}`` — ``waitForIndex`` waits (``indexed`` or
  ``timeout``).

Each app has one ``ApiMetrics`` registry; :func:`write_metrics` makes this module's
collectors once per registry (label values are bounded: mutation names come from the schema).
"""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Histogram

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, WriteMetrics] = (
    weakref.WeakKeyDictionary()
)


class WriteMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.mutation_duration = Histogram(
            "gitstore_api_mutation_duration_seconds",
            "Catalogue mutation latency, by mutation and outcome",
            ["mutation", "outcome"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.commit_duration = Histogram(
            "gitstore_api_commit_duration_seconds",
            "CommitFiles gRPC call latency, by outcome",
            ["outcome"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.commit_retries = Counter(
            "gitstore_api_commit_retries",
            "Check-and-commit rounds repeated after the branch moved",
            registry=registry,
        )
        self.index_wait = Histogram(
            "gitstore_api_index_wait_seconds",
            "waitForIndex waits, by outcome",
            ["outcome"],
            buckets=_BUCKETS,
            registry=registry,
        )

    def mutation(self, name: str, seconds: float, outcome: str) -> None:
        self.mutation_duration.labels(name, outcome).observe(seconds)

    def commit(self, seconds: float, outcome: str) -> None:
        self.commit_duration.labels(outcome).observe(seconds)


def write_metrics(registry: CollectorRegistry) -> WriteMetrics:
    """This module's collectors in ``registry`` (made on first use)."""
    metrics = _by_registry.get(registry)
    if metrics is None:
        metrics = WriteMetrics(registry)
        _by_registry[registry] = metrics
    return metrics
