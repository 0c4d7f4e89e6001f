"""The worker as a long-lived service: ``gitstore worker`` alone, or inside ``gitstore serve``.

``WorkerService(settings)`` has ``name``, async ``start()`` and ``stop()`` (the
``cli.runner.Service`` shape). ``start`` opens what it was not given — the queue
(``settings.queue_url()``, stream ``settings.queue.stream``, lease
``settings.queue.ack_wait``), a second queue on the same URL for the stream of
``PublishedEvent``s (``published_stream(settings.queue.stream)``, written by the publisher),
the KV store (``settings.kv_url()``), the resource store (``settings.resources_url()``,
migrated) with a queue for its announcements (stream ``settings.resources.stream``) and a git
client (``settings.git.grpc.uri``) — and starts
the consumer and a sampler of the queue backlog (``pending``) for the metrics. It does not wait
for the git service: until that answers, events are retried with backoff. ``stop`` stops
fetching, lets in-flight events finish (``grace`` seconds), and closes what it opened.

Metrics go to ``registry`` (a fresh one by default; ``serve`` passes the registry it already
exposes). With ``serve_metrics=True`` and ``settings.worker.metrics_port`` > 0 the service
serves ``/metrics`` itself on ``metrics_host:metrics_port`` (standalone ``gitstore worker``).
``gitstore worker`` runs one service until SIGTERM/SIGINT (``cli.runner``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.backends.resources import ResourceStore, open_resource_store, poke_retention
from gitstore.config import Settings
from gitstore.domain.content import KindRegistry
from gitstore.domain.errors import GitStoreError, Unavailable
from gitstore.domain.events import PublishedEvent, published_stream
from gitstore.git.client import GitClient
from gitstore.git.kinds import KindsLoader
from gitstore.worker.chunk_helper import ChunkConsumer
from gitstore.worker.chunks import ChunkSharer, chunk_stream
from gitstore.worker.consumer import Consumer
from gitstore.worker.handler import EventHandler
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.pool import PreparePool
from gitstore.worker.prepared_cache import PreparedCache
from gitstore.worker.projector import Projector
from gitstore.worker.publisher import Publisher
from gitstore.worker.resources import ResourceSync
from gitstore.worker.statuses import StatusRecorder

log = logging.getLogger(__name__)

_instances = itertools.count(1)


def default_consumer_name() -> str:
    """``<host>-<pid>``, with ``-<n>`` for a second worker in the same process."""
    n = next(_instances)
    base = f"{socket.gethostname()}-{os.getpid()}"
    return base if n == 1 else f"{base}-{n}"


class WorkerService:
    name = "worker"

    def __init__(
        self,
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        serve_metrics: bool = False,
        consumer_name: str | None = None,
        queue: Queue | None = None,
        published: Queue | None = None,
        kv: KvStore | None = None,
        resources: ResourceStore | None = None,
        announce_to: Queue | None = None,
        git: GitClient | None = None,
        kinds: KindRegistry | None = None,
        grace: float = 10.0,
        pending_interval: float = 5.0,
    ) -> None:
        self.settings = settings
        self.metrics = WorkerMetrics(registry)
        self.serve_metrics = serve_metrics
        self.consumer_name = consumer_name or default_consumer_name()
        self.kinds = kinds or KindRegistry.builtin()
        self.grace = grace
        self.pending_interval = pending_interval
        self.queue, self.kv, self.git = queue, kv, git
        self.published = published
        self.chunk_queue: Queue | None = None
        self.chunk_consumer: ChunkConsumer | None = None
        self.resources, self.announce_to = resources, announce_to
        self.publisher: Publisher | None = None
        self._owned: list[Any] = []
        self.consumer: Consumer | None = None
        self.projector: Projector | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._http: Any = None
        self.metrics_port: int | None = None

    async def start(self) -> None:
        s = self.settings
        try:
            share = self.queue is None and s.worker.share_chunks > 0  # given queues: not shared
            if self.queue is None:
                self.queue = await open_queue(
                    s.queue_url(), stream=s.queue.stream, ack_wait=s.queue.ack_wait
                )
                self._owned.append(self.queue)
            if self.published is None:
                self.published = await open_queue(
                    s.queue_url(),
                    stream=published_stream(s.queue.stream),
                    ack_wait=s.queue.ack_wait,
                )
                self._owned.append(self.published)
            if self.chunk_queue is None and share:
                self.chunk_queue = await open_queue(
                    s.queue_url(), stream=chunk_stream(s.queue.stream), ack_wait=s.queue.ack_wait
                )
                self._owned.append(self.chunk_queue)
            if self.kv is None:
                self.kv = await open_kv_store(s.kv_url())
                self._owned.append(self.kv)
            if self.resources is None:
                self.resources = open_resource_store(s.resources_url(), retain=s.resources.retain)
                self._owned.append(self.resources)
                await self.resources.migrate()
            if self.announce_to is None:
                self.announce_to = await open_queue(
                    s.queue_url(),
                    stream=s.resources.stream,
                    ack_wait=s.queue.ack_wait,
                    retention=poke_retention(
                        s.resources.stream_max_messages,
                        s.resources.stream_max_age,
                        s.resources.stream_group_idle_expiry,
                    ),
                )
                self._owned.append(self.announce_to)
            if self.git is None:
                self.git = GitClient.from_settings(s)
                self._owned.append(self.git)
            self.metrics.kv_write_lock_max_seconds.set_function(self.kv.longest_write_seconds)
            self._start_metrics_server()
        except BaseException:
            await self._close_owned()
            raise
        w = s.worker
        pool = PreparePool(w.prepare_processes, gc_gen0=w.gc_gen0_threshold)
        self._owned.append(pool)
        kinds = KindsLoader(self.git, max_bytes=s.content.max_manifest_bytes, base=self.kinds)
        self.projector = projector = Projector(
            self.git,
            self.kv,
            owner=f"{self.consumer_name}-{uuid.uuid4().hex[:8]}",
            registry=self.kinds,
            batch_size=w.batch_size,
            depth=w.pipeline_depth,
            claim_stale_seconds=w.claim_stale_seconds,
            metrics=self.metrics,
            max_bytes=s.content.max_manifest_bytes,
            pool=pool,
            cache=PreparedCache(w.prepared_cache_bytes, metrics=self.metrics),
            kinds=kinds,
            hook_limits=s.conversion.hook_limits(),
            hook_workers=s.conversion.workers,
        )
        self.metrics.watch_hooks(lambda: projector.runner)
        if self.chunk_queue is not None and w.share_chunks:
            projector.sharer = ChunkSharer(
                self.chunk_queue, min_chunks=w.share_chunks, stall_seconds=w.chunk_stall_seconds
            )
            self.chunk_consumer = ChunkConsumer(
                self.chunk_queue,
                projector,
                group=w.group,
                name=self.consumer_name,
                concurrency=w.chunk_concurrency,
                max_deliveries=w.max_deliveries,
            )
        recorder = StatusRecorder(
            self.git,
            self.kv,
            registry=self.kinds,
            metrics=self.metrics,
            max_bytes=s.content.max_manifest_bytes,
            kinds=kinds,
            hooks=lambda: projector.hooks,  # one hook pool for projection and statuses
        )
        published = self.published

        async def announce(event: PublishedEvent) -> None:
            await published.publish(event.to_json(), key=event.repository_id)

        self.publisher = Publisher(
            self.projector, announce=announce, draft_wait=w.release_draft_wait_seconds
        )
        sync = ResourceSync(self.git, self.kv, self.resources, kinds, announce_to=self.announce_to)
        handler = EventHandler(self.projector, recorder, self.publisher, sync)
        self.consumer = Consumer(
            self.queue,
            handler.handle,
            group=w.group,
            name=self.consumer_name,
            concurrency=w.concurrency,
            metrics=self.metrics,
            max_deliveries=w.max_deliveries,
        )
        self._tasks = [
            asyncio.create_task(self.consumer.run(grace=self.grace), name="worker-consumer"),
            asyncio.create_task(self._sample_pending(), name="worker-pending"),
        ]
        if self.chunk_consumer is not None:
            self._tasks.insert(
                1,
                asyncio.create_task(
                    self.chunk_consumer.run(grace=self.grace), name="worker-chunks"
                ),
            )
        log.info(
            "worker %s consuming %s (group %s, concurrency %d, batch %d) into %s via git %s",
            self.consumer_name,
            s.queue.stream,
            w.group,
            w.concurrency,
            w.batch_size,
            _redact(s.kv_url()),
            s.git.grpc.uri,
        )

    async def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop()
        if self.chunk_consumer is not None:
            self.chunk_consumer.stop()
        running = 2 if self.chunk_consumer is not None else 1  # consumers drain; others stop
        for task in self._tasks[running:]:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.projector is not None:
            await asyncio.to_thread(self.projector.close)
        await self._close_owned()

    async def _close_owned(self) -> None:
        if self._http is not None:
            server, thread = self._http
            server.shutdown()
            server.server_close()
            thread.join(5)
            self._http = None
        for resource in reversed(self._owned):
            try:
                await resource.close()
            except Exception:
                log.exception("closing %r failed", resource)
        self._owned = []

    def _start_metrics_server(self) -> None:
        w = self.settings.worker
        if not self.serve_metrics or not w.metrics_port:
            return
        try:
            server, thread = start_http_server(
                w.metrics_port, addr=w.metrics_host, registry=self.metrics.registry
            )
        except OSError as exc:
            raise Unavailable(
                f"cannot serve worker metrics on {w.metrics_host}:{w.metrics_port}: {exc}"
            ) from None
        self._http = (server, thread)
        self.metrics_port = int(server.server_address[1])
        log.info("worker metrics on http://%s:%d/metrics", w.metrics_host, self.metrics_port)

    async def _sample_pending(self) -> None:
        assert self.queue is not None
        group = self.settings.worker.group
        while True:
            try:
                self.metrics.queue_pending.set(await self.queue.pending(group))
                self.metrics.dead_letters.set(await self.queue.dead_letter_count(group))
            except GitStoreError as exc:
                log.debug("cannot read the queue backlog: %s", exc.message)
            await asyncio.sleep(self.pending_interval)


def _redact(url: str) -> str:
    """A URL without its password, for logs."""
    head, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        creds, _, host = rest.partition("@")
        user = creds.split(":", 1)[0]
        return f"{head}://{user}:***@{host}"
    return url
