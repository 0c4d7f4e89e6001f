"""The manager: runs controllers for one repository — informers, work queues, workers —
while this replica leads (leader election), with metrics and a bounded shutdown.

``Manager(client, repository, [controllers], identity=...)``; ``await start()`` starts the
informers (their caches fill even on followers, so a new leader starts warm) and the lease
loop; workers take keys only while ``elector.leading`` is set. On becoming leader every
cached key is queued (level-triggered: reconcile everything once). ``await stop(deadline)``
stops taking keys, lets running reconciles finish for at most ``deadline`` seconds, cancels
the rest, releases the lease (another replica takes over at once) and returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from .client import ApiClient
from .controller import Context, Controller, KeyController, Result
from .errors import ApiError, Conflict, PermanentError, RetryableError
from .informer import Informer
from .leader import LeaderElector
from .metrics import ControllerMetrics
from .queue import QueueShutDown, WorkQueue

log = logging.getLogger(__name__)


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class _Runner:
    """One controller: its informer, queue and workers."""

    def __init__(self, manager: Manager, controller: Controller, workers: int) -> None:
        self.m = manager
        self.controller = controller
        self.informer = Informer(
            manager.client, manager.repository, None if controller.kind == "*" else controller.kind,
            label_selector=controller.label_selector,
        )  # fmt: skip
        self.queue: WorkQueue[str] = WorkQueue(**manager.queue_options)
        self.ctx = Context(manager.client, manager.repository, self.informer.cache)
        self.workers = workers
        self.informer.add_handler(self._on_event)
        self.reconciled = 0
        self.busy: set[asyncio.Task[Any]] = set()

    def _on_event(self, event_type: str, obj: dict[str, Any]) -> None:
        self.ctx.cache = self.informer.cache  # a relist replaces the dict
        self.queue.add(self.controller.key_of(event_type, obj))
        self.m.metrics.queue_depth.labels(self.controller.name).set(self.queue.depth)

    def resync(self) -> None:
        for obj in list(self.informer.cache.values()):
            self.queue.add(self.controller.key_of("SYNC", obj))
        if not isinstance(self.controller, KeyController):
            task = asyncio.get_running_loop().create_task(self._orphans(), name="orphans")
            self.m._tasks.append(task)

    async def _orphans(self) -> None:
        """Queue the held names whose objects are gone (``Controller.held``), once listed;
        a failing API is asked again with backoff."""
        await self.informer.synced.wait()
        delay = 0.5
        while True:
            try:
                held = await self.controller.held(self.ctx)
                break
            except (RetryableError, ApiError) as exc:
                log.warning("%s: listing what it holds: %s", self.controller.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        for name in held:
            if self.informer.get(name) is None:
                self.queue.add(name)

    async def work(self) -> None:
        name = self.controller.name
        while True:
            await self.m.elector.leading.wait()
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            task = asyncio.current_task()
            assert task is not None
            self.busy.add(task)
            try:
                if not self.m.elector.leading.is_set():
                    self.queue.add(key)  # lost the lease meanwhile: the next leader does it
                    continue
                started = time.perf_counter()
                outcome = await self._process(key)
                self.m.metrics.latency.labels(name).observe(time.perf_counter() - started)
                self.m.metrics.reconciles.labels(name, outcome).inc()
                self.reconciled += 1
            finally:
                self.busy.discard(task)
                self.queue.done(key)
                self.m.metrics.queue_depth.labels(name).set(self.queue.depth)

    async def _process(self, key: str) -> str:
        c, q, name = self.controller, self.queue, self.controller.name
        try:
            result = await self._reconcile(key)
        except Conflict as exc:
            self.m.metrics.errors.labels(name, "conflict").inc()
            # the cache is behind the store: retry soon (backoff, so a lagging watch is not
            # answered with a busy loop of conflicting writes)
            delay = q.add_rate_limited(key)
            log.debug("%s %s: %s; retry in %.3f s", name, key, exc, delay)
            return "retry"
        except PermanentError as exc:
            self.m.metrics.errors.labels(name, "permanent").inc()
            log.error("%s %s failed for good: %s", name, key, exc)
            q.forget(key)
            return "permanent"
        except (RetryableError, ApiError) as exc:
            if isinstance(exc, ApiError):
                self.m.metrics.errors.labels(name, "permanent").inc()
                log.error("%s %s: the API refused: %s", name, key, exc)
                q.forget(key)
                return "permanent"
            self.m.metrics.errors.labels(name, "retryable").inc()
            self._retry(key, exc.after, exc)
            return "retry"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.m.metrics.errors.labels(name, "unexpected").inc()
            log.exception("%s %s raised", c.name, key)
            self._retry(key, None, exc)
            return "retry"
        q.forget(key)
        if result is not None and result.requeue_after is not None:
            q.add_after(key, result.requeue_after)
            return "requeue"
        return "success"

    def _retry(self, key: str, after: float | None, exc: BaseException) -> None:
        if after is not None:
            self.queue.add_after(key, after)
            delay = after
        else:
            delay = self.queue.add_rate_limited(key)
        log.info("%s %s: %s; retry in %.3f s", self.controller.name, key, exc, delay)

    async def _reconcile(self, key: str) -> Result | None:
        c, ctx = self.controller, self.ctx
        if isinstance(c, KeyController):
            return await c.reconcile_key(ctx, key)
        obj = self.informer.get(key)
        if obj is None:  # gone: nothing to hold on to (finalizers keep what needs cleanup)
            await c.gone(ctx, key)
            return None
        finalizers: list[str] = list(obj["metadata"].get("finalizers") or [])
        if obj["metadata"].get("deletionTimestamp"):
            if c.finalizer is not None and c.finalizer in finalizers:
                await c.cleanup(ctx, obj)
                await ctx.set_finalizers(obj, [f for f in finalizers if f != c.finalizer])
            return None
        if c.finalizer is not None and c.finalizer not in finalizers:
            obj = await ctx.set_finalizers(obj, [*finalizers, c.finalizer])
            ctx.remember(obj)
        return await c.reconcile(ctx, obj)


class Manager:
    def __init__(
        self,
        client: ApiClient,
        repository: str,
        controllers: Sequence[Controller],
        *,
        identity: str | None = None,
        lease_name: str | None = None,
        lease_seconds: float = 15.0,
        renew_every: float | None = None,
        workers: int = 4,
        registry: CollectorRegistry | None = None,
        metrics: ControllerMetrics | None = None,
        queue_options: dict[str, Any] | None = None,
    ) -> None:
        if not controllers:
            raise ValueError("a manager needs at least one controller")
        names = [c.name for c in controllers]
        if any(not n or not c.kind for n, c in zip(names, controllers, strict=True)):
            raise ValueError("every controller needs a name and a kind")
        if len(set(names)) != len(names):
            raise ValueError(f"controller names must be unique: {names}")
        self.client = client
        self.repository = repository
        self.identity = identity or default_identity()
        self.metrics = metrics or ControllerMetrics(registry)
        self.queue_options = queue_options or {}
        self.elector = LeaderElector(
            client,
            repository,
            lease_name or "+".join(sorted(names)),
            self.identity,
            lease_seconds=lease_seconds,
            renew_every=renew_every,
            on_change=self._leadership,
        )
        self.runners = [_Runner(self, c, workers) for c in controllers]
        self._tasks: list[asyncio.Task[None]] = []

    def runner(self, name: str) -> _Runner:
        return next(r for r in self.runners if r.controller.name == name)

    def _leadership(self, held: bool) -> None:
        for r in self.runners:
            self.metrics.leader.labels(r.controller.name).set(1 if held else 0)
            if held:
                r.resync()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for r in self.runners:
            r.informer.on_relist = lambda r=r: self.metrics.relists.labels(r.controller.name).inc()
            self._tasks.append(loop.create_task(r.informer.run(), name=f"informer-{r}"))
            for i in range(r.workers):
                self._tasks.append(loop.create_task(r.work(), name=f"worker-{i}"))
        self._tasks.append(loop.create_task(self.elector.run(), name="lease"))

    async def wait_synced(self, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            for r in self.runners:
                await r.informer.synced.wait()

    async def stop(self, deadline: float = 10.0) -> None:
        """Bounded: running reconciles get ``deadline`` seconds, then everything is cancelled."""
        for r in self.runners:
            r.queue.shut_down()
        busy = {t for r in self.runners for t in r.busy}
        workers = [t for t in self._tasks if t in busy]
        for t in self._tasks:
            if t not in busy:
                t.cancel()  # informers, the lease loop, idle workers
        if workers:
            _done, pending = await asyncio.wait(workers, timeout=deadline)
            for t in pending:
                t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.elector.release()
