"""Prometheus metrics of controllers, in a registry the caller owns (``serve`` passes the
API's, so they appear on its ``/metrics``). Label values are controller names (a bounded,
code-defined set), never object names or repositories.

* ``gitstore_controller_reconciles_total{controller,result}``: reconciles by outcome:
  ``success``, ``requeue`` (success with requeue-after), ``retry`` (retryable error or
  conflict: backoff), ``permanent`` (permanent error: dropped);
* ``gitstore_controller_reconcile_errors_total{controller,kind}``: errors by kind
  (``retryable``, ``conflict``, ``permanent``, ``unexpected``);
* ``gitstore_controller_reconcile_seconds{controller}``: one reconcile's duration;
* ``gitstore_controller_queue_depth{controller}``: keys waiting (ready + delayed);
* ``gitstore_controller_leader{controller}``: 1 while this replica leads, else 0;
* ``gitstore_controller_relists_total{controller}``: lists of the informer (first + EXPIRED);
* ``gitstore_controller_proposals_total{controller,action}``: change requests of proposing
  controllers: ``opened``, ``closed`` (no longer needed), ``superseded``, ``capped`` (not
  opened: too many open), ``rejected`` (a model answer that failed validation), ``failed``
  (the model could not be reached or answered no usable completion).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ControllerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.reconciles = Counter(
            "gitstore_controller_reconciles",
            "Reconciles by outcome.",
            ["controller", "result"],
            registry=r,
        )
        self.errors = Counter(
            "gitstore_controller_reconcile_errors",
            "Reconcile errors by kind.",
            ["controller", "kind"],
            registry=r,
        )
        self.latency = Histogram(
            "gitstore_controller_reconcile_seconds",
            "Duration of one reconcile.",
            ["controller"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "gitstore_controller_queue_depth",
            "Keys waiting in the work queue (ready and delayed).",
            ["controller"],
            registry=r,
        )
        self.leader = Gauge(
            "gitstore_controller_leader",
            "1 while this replica holds the controller's lease.",
            ["controller"],
            registry=r,
        )
        self.relists = Counter(
            "gitstore_controller_relists",
            "Informer lists (the first and after EXPIRED).",
            ["controller"],
            registry=r,
        )
        self.proposals = Counter(
            "gitstore_controller_proposals",
            "Change requests of proposing controllers by action.",
            ["controller", "action"],
            registry=r,
        )
