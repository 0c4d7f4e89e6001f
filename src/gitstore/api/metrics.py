"""Prometheus metrics of one API app, in the app's own registry (served at ``/metrics``).

Each app gets a fresh ``CollectorRegistry`` so several apps in one process (tests) never
collide. Label values are bounded: ``route`` is one of the app's routes, ``operation`` is
``<type>.<first root field>`` of an operation that validated (so bounded by the schema), and
``code`` is an error code from a fixed vocabulary.

* ``gitstore_api_requests_total{route,method,status}`` and
  ``gitstore_api_request_duration_seconds{route}``: every HTTP request;
* ``gitstore_api_graphql_operations_total{operation}`` and
  ``gitstore_api_graphql_duration_seconds{operation}``: executed GraphQL operations;
* ``gitstore_api_graphql_errors_total{code}``: errors returned to clients, by code;
* ``gitstore_api_document_cache_{hits,misses}_total``, ``gitstore_api_document_cache_entries``;
* ``gitstore_api_apq_requests_total{outcome}``: hit / miss / registered;
* ``gitstore_api_schema_version`` and ``gitstore_api_schema_publish_failures_total``;
* ``gitstore_api_storefront_read_duration_seconds{field}``: storefront reads served from the
  KV store, by catalogue field (``catalog``, ``product``, ``products``, ..., ``commitStatus``,
  ``raw`` for the floor route);
* ``gitstore_api_event_streams`` (open SSE streams), ``gitstore_api_watchers`` (live watches),
  ``gitstore_api_watch_cutoffs_total{reason}`` (``slow_consumer``, ``expired``, ``shutdown``)
  and ``gitstore_api_watch_pokes_total`` (``ResourceChangedEvent``s read): docs/watch.md.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gitstore_api_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.request_duration = Histogram(
            "gitstore_api_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.operations = Counter(
            "gitstore_api_graphql_operations",
            "Executed GraphQL operations",
            ["operation"],
            registry=r,
        )
        self.operation_duration = Histogram(
            "gitstore_api_graphql_duration_seconds",
            "GraphQL operation latency (prepare + execute)",
            ["operation"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "gitstore_api_graphql_errors", "GraphQL errors returned", ["code"], registry=r
        )
        self.cache_hits = Counter(
            "gitstore_api_document_cache_hits", "Document cache hits", registry=r
        )
        self.cache_misses = Counter(
            "gitstore_api_document_cache_misses", "Document cache misses", registry=r
        )
        self.cache_entries = Gauge(
            "gitstore_api_document_cache_entries", "Documents in the cache", registry=r
        )
        self.apq = Counter(
            "gitstore_api_apq_requests",
            "Automatic persisted query lookups",
            ["outcome"],
            registry=r,
        )
        self.schema_version = Gauge(
            "gitstore_api_schema_version", "Version of the live GraphQL schema", registry=r
        )
        self.schema_failures = Counter(
            "gitstore_api_schema_publish_failures",
            "Schema candidates rejected (last known-good kept)",
            registry=r,
        )

        self.storefront_read_duration = Histogram(
            "gitstore_api_storefront_read_duration_seconds",
            "Storefront read latency (KV reads and assembly), by catalogue field",
            ["field"],
            buckets=_BUCKETS,
            registry=r,
        )

        self.event_streams = Gauge(
            "gitstore_api_event_streams", "Open Server-Sent Events streams", registry=r
        )
        self.watchers = Gauge("gitstore_api_watchers", "Live resource watches", registry=r)
        self.watch_cutoffs = Counter(
            "gitstore_api_watch_cutoffs",
            "Watches ended by the server, by reason",
            ["reason"],
            registry=r,
        )
        self.watch_pokes = Counter(
            "gitstore_api_watch_pokes", "ResourceChangedEvent pokes read from the queue", registry=r
        )

    def document_lookup(self, hit: bool) -> None:
        (self.cache_hits if hit else self.cache_misses).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
