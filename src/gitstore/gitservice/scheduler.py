"""Background housekeeping after writes: debounced, one run per repository at a time, a
bounded number of repositories at once.

``notify(repo_id)`` is called after every write the git service makes or lets git make
(``CommitFiles``, ref changes, pushes). It costs a dictionary update: the repository becomes
due ``debounce_seconds`` after its latest write, but no later than ``max_delay_seconds``
after the first write not yet looked at, so a steady stream of commits still gets checked.
One scheduler thread hands due repositories to a pool of ``concurrency`` threads, which run
``Housekeeper.optimize`` (heuristic strategy: usually just ``git count-objects``, a few
milliseconds, and nothing else). A repository being optimised is not handed out again until
its run ends; writes during the run make it due again afterwards. Failures are logged and
counted, never raised into a write.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from gitstore.config import HousekeepingSettings
from gitstore.domain.errors import NotFound
from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.housekeeping import Housekeeper, Report

log = logging.getLogger(__name__)


class HousekeepingMetrics:
    """Runs by outcome and action, and their durations."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        self.runs = Counter(
            "gitstore_housekeeping_runs",
            "Repository optimisations by outcome (noop, optimized, skipped, failed)",
            ["outcome"],
            registry=r,
        )
        self.actions = Counter(
            "gitstore_housekeeping_actions",
            "Housekeeping actions run (geometric-repack, full-repack, prune, commit-graph)",
            ["action"],
            registry=r,
        )
        self.seconds = Histogram(
            "gitstore_housekeeping_seconds",
            "Duration of optimisations that did something",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
            registry=r,
        )
        self.bytes_freed = Counter(
            "gitstore_housekeeping_bytes_freed", "Object bytes freed by optimisations", registry=r
        )

    def observe(self, report: Report) -> None:
        if report.skipped:
            self.runs.labels("skipped").inc()
            return
        self.runs.labels("optimized" if report.actions else "noop").inc()
        for action in report.actions:
            self.actions.labels(action).inc()
        if report.actions:
            self.seconds.observe(report.seconds)
            freed = report.before.total_bytes - report.after.total_bytes
            if freed > 0:
                self.bytes_freed.inc(freed)


@dataclass(slots=True)
class _Due:
    first: float
    due: float


class HousekeepingScheduler:
    def __init__(
        self,
        housekeeper: Housekeeper,
        settings: HousekeepingSettings,
        metrics: HousekeepingMetrics | None = None,
    ) -> None:
        self.housekeeper = housekeeper
        self.settings = settings
        self.metrics = metrics or HousekeepingMetrics()
        self._cond = threading.Condition(threading.Lock())
        self._pending: dict[RepositoryId, _Due] = {}
        self._running: set[RepositoryId] = set()
        self._stopping = False
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="housekeeping"
        )
        self._thread = threading.Thread(target=self._loop, name="housekeeping-scheduler")
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop handing out work; waits for runs in progress (git is not interrupted)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def notify(self, repo_id: RepositoryId) -> None:
        now = time.monotonic()
        with self._cond:
            if self._stopping:
                return
            entry = self._pending.get(repo_id)
            if entry is None:
                self._pending[repo_id] = _Due(now, now + self.settings.debounce_seconds)
            else:
                limit = entry.first + self.settings.max_delay_seconds
                entry.due = min(now + self.settings.debounce_seconds, limit)
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._running)

    def _loop(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                ready = [
                    repo_id
                    for repo_id, entry in self._pending.items()
                    if entry.due <= now and repo_id not in self._running
                ]
                free = self.settings.concurrency - len(self._running)
                for repo_id in ready[: max(0, free)]:
                    del self._pending[repo_id]
                    self._running.add(repo_id)
                    self._pool.submit(self._run, repo_id)
                waiting = [e.due for r, e in self._pending.items() if r not in self._running]
                timeout = max(0.0, min(waiting) - now) if waiting else None
                if free <= len(ready) and ready:
                    timeout = None  # a run ending notifies
                self._cond.wait(timeout)

    def _run(self, repo_id: RepositoryId) -> None:
        try:
            self.housekeeper.optimize(repo_id)  # its ``observe`` records the outcome
        except NotFound:
            pass  # deleted since the write
        except Exception:
            self.metrics.runs.labels("failed").inc()
            log.exception("housekeeping of %s failed", repo_id)
        finally:
            with self._cond:
                self._running.discard(repo_id)
                self._cond.notify_all()
