"""The watch cache of one API process: recent changes per repository, fanned out to watchers.

Per repository that someone watches, a :class:`_Window` keeps the last ``window`` changes
(a ring buffer) and the range they cover, ``(base, latest]``. It is fed only by
``ResourceFeed.changes_since(latest)``, pulled when a poke (``poke(repository, version)``, from
the ``resources`` queue stream) names a newer version, and on every bookmark tick (the store's
``current_version``), so a lost poke delays a change by at most one tick. A window is made on
the first watch of its repository, starting at the store's current version; nothing else is
kept across restarts: after one, resumes older than the new window are served from the store
(``changes_since``), so the cache is rebuilt from the store, not from memory.

A watch (:meth:`WatchCache.watch`) registers a :class:`_Watcher` first and then catches up,
so nothing committed meanwhile is missed, and skips what it already sent (versions at or
below its cursor), so nothing is sent twice:

* no ``resource_version``: ``ADDED`` for every current object (``list_resources``), then a
  ``BOOKMARK`` at the list's version, then the changes after it;
* a version in the window: the window's later changes, then live ones;
* an older one: the store's ``changes_since`` up to the window, or ``EXPIRED`` (then the end)
  when the store has no longer kept them — the client lists again;

With a label selector, a watch follows objects in and out of its selection as Kubernetes
does (:func:`selected_type`): a change that makes an object match is sent as ``ADDED``, one
that makes it stop matching as ``DELETED`` (carrying the object after the change), from the
labels before and after the change (``ResourceChange.previous_labels``, logged by the store),
so live, window and store-read events, and resumes, agree.

Every watcher has a bounded buffer (``watcher_buffer``). A watcher whose client reads too
slowly fills it and is cut off: its buffer is dropped and its stream ends with a
``ResourceExhausted`` error naming the version to resume from. ``close()`` (server shutdown)
ends every watch with ``Unavailable``. Windows nobody watched for two ticks are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from gitstore.domain.errors import GitStoreError, ResourceExhausted, Unavailable
from gitstore.domain.resources.watch import Expired, ResourceChange, ResourceFeed
from gitstore.domain.selectors import LabelSelector

log = logging.getLogger("gitstore.api.watch")

PAGE = 1000  # changes read from the store per call


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One event of a watch: a change, a bookmark, the expiry answer or the final error."""

    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | EXPIRED | ERROR
    resource_version: int
    repository_id: str
    object: dict[str, Any] | None = None
    error: GitStoreError | None = None
    # the same key for the same event of any watcher (shared encodings, see api/sse)
    key: tuple[Any, ...] = ()


def _change_event(change: ResourceChange, type_: str) -> WatchEvent:
    key = ("change", change.repository_id, change.resource_version, type_)
    return WatchEvent(type_, change.resource_version, change.repository_id, change.object, key=key)


def _labels(obj: dict[str, Any]) -> dict[str, str] | None:
    metadata = obj.get("metadata")
    return metadata.get("labels") if isinstance(metadata, dict) else None


def selected_type(change: ResourceChange, selector: LabelSelector) -> str | None:
    """The event a watch with ``selector`` sends for ``change`` (None: nothing), as
    Kubernetes does: an object entering the selection is ``ADDED``, one leaving it
    ``DELETED``, one staying in it keeps the change's type."""
    if selector.empty:
        return change.type
    now = selector.matches(_labels(change.object))
    if change.type != "MODIFIED" or change.previous_labels is None:
        return change.type if now else None  # labels unchanged: in or out on both sides
    before = selector.matches(change.previous_labels)
    if before and now:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None


class _Watcher:
    __slots__ = ("bookmark", "buffer", "capacity", "cursor", "end", "kind", "selector", "wake")

    def __init__(self, kind: str | None, selector: LabelSelector, capacity: int) -> None:
        self.kind = kind
        self.selector = selector
        self.capacity = capacity
        self.buffer: deque[tuple[ResourceChange, str]] = deque()
        self.wake = asyncio.Event()
        self.cursor = 0  # the highest version sent (or covered by the initial list)
        self.end: WatchEvent | None = None  # set: the watch ends with this event
        self.bookmark = 0

    def event_type(self, change: ResourceChange) -> str | None:
        """What this watch sends for ``change`` (None: nothing)."""
        if self.kind is not None and change.kind != self.kind:
            return None
        return selected_type(change, self.selector)

    def offer(self, change: ResourceChange) -> bool:
        """Queue a change; False when the watcher was cut off for reading too slowly."""
        if self.end is not None:
            return True
        type_ = self.event_type(change)
        if type_ is None:
            return True
        if len(self.buffer) >= self.capacity:
            self.stop(
                ResourceExhausted(
                    f"watch cut off: the client read too slowly ({self.capacity} changes were"
                    f" waiting for it, GITSTORE_WATCH__WATCHER_BUFFER); watch again from"
                    f" resourceVersion {self.cursor}",
                    field="resourceVersion",
                )
            )
            return False
        self.buffer.append((change, type_))
        self.wake.set()
        return True

    def stop(self, error: GitStoreError | None = None, expired_at: int = 0) -> None:
        if self.end is not None:
            return
        self.buffer.clear()
        if error is not None:
            self.end = WatchEvent("ERROR", self.cursor, "", error=error)
        else:
            self.end = WatchEvent("EXPIRED", expired_at, "")
        self.wake.set()


class _Window:
    def __init__(
        self, repository_id: str, version: int, size: int, on_cutoff: Callable[[str], None]
    ) -> None:
        self.repository_id = repository_id
        self.on_cutoff = on_cutoff
        self.changes: deque[ResourceChange] = deque(maxlen=size)
        self.base = version  # every change in (base, latest] is in ``changes``
        self.latest = version
        self.wanted = version  # the highest version a poke named
        self.watchers: set[_Watcher] = set()
        self.puller: asyncio.Task[None] | None = None
        self.idle_ticks = 0

    def append(self, change: ResourceChange) -> None:
        if len(self.changes) == self.changes.maxlen:
            self.base = self.changes[0].resource_version
        self.changes.append(change)
        self.latest = change.resource_version
        cut = [w for w in self.watchers if not w.offer(change)]
        for watcher in cut:
            self.watchers.discard(watcher)
            self.on_cutoff("slow_consumer")
            log.info("watch of %s cut off: slow consumer", self.repository_id)

    def since(self, version: int) -> list[ResourceChange]:
        return [c for c in self.changes if c.resource_version > version]


class WatchCache:
    def __init__(
        self,
        feed: ResourceFeed,
        *,
        window: int = 10_000,
        watcher_buffer: int = 10_000,
        bookmark_seconds: float = 30.0,
        on_cutoff: Callable[[str], None] | None = None,
    ) -> None:
        self.feed = feed
        self._on_cutoff = on_cutoff or (lambda _reason: None)
        self.window_size = window
        self.watcher_buffer = watcher_buffer
        self.bookmark_seconds = bookmark_seconds
        self._windows: dict[str, _Window] = {}
        self._opening: dict[str, asyncio.Future[_Window]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_forever(), name="watch-bookmarks")

    async def close(self) -> None:
        """End every watch (``Unavailable``: the server is going away) and stop pulling."""
        self._closed = True
        tasks = [t for t in (self._ticker, *(w.puller for w in self._windows.values())) if t]
        for window in self._windows.values():
            for watcher in window.watchers:
                watcher.stop(
                    Unavailable(
                        "the server is shutting down; watch again from resourceVersion"
                        f" {watcher.cursor}"
                    )
                )
                self._on_cutoff("shutdown")
            window.watchers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._windows.clear()

    @property
    def watcher_count(self) -> int:
        return sum(len(w.watchers) for w in self._windows.values())

    # ------------------------------------------------------------------ feeding
    def poke(self, repository_id: str, version: int) -> None:
        """The store has committed ``version`` of ``repository_id``: pull it if watched."""
        window = self._windows.get(repository_id)
        if window is None or version <= window.latest:
            return
        window.wanted = max(window.wanted, version)
        self._pull_soon(window)

    def _pull_soon(self, window: _Window) -> None:
        if window.puller is None or window.puller.done():
            window.puller = asyncio.create_task(self._pull(window), name="watch-pull")

    async def _pull(self, window: _Window) -> None:
        feed = self.feed
        try:
            while window.wanted > window.latest and not self._closed:
                try:
                    page = await feed.changes_since(window.repository_id, window.latest, limit=PAGE)
                except Expired as exc:
                    self._expire(window, exc)
                    continue
                for change in page:
                    if change.resource_version > window.latest:
                        window.append(change)
                if len(page) < PAGE:
                    break  # caught up with what the store has
        except Exception:
            log.exception("watch cache: pulling changes of %s failed", window.repository_id)

    def _expire(self, window: _Window, exc: Expired) -> None:
        """The store dropped changes the window never saw: its watchers must relist."""
        log.warning("watch cache of %s fell behind the store: %s", window.repository_id, exc)
        for watcher in window.watchers:
            watcher.stop(expired_at=exc.oldest)
            self._on_cutoff("expired")
        window.watchers.clear()
        window.changes.clear()
        window.base = window.latest = exc.oldest

    async def _tick_forever(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.bookmark_seconds)
            await self.tick()

    async def tick(self) -> None:
        """Check each window against the store, send bookmarks, drop idle windows."""
        for repository_id, window in list(self._windows.items()):
            if not window.watchers:
                window.idle_ticks += 1
                if window.idle_ticks >= 2:
                    del self._windows[repository_id]
                continue
            window.idle_ticks = 0
            try:
                current = await self.feed.current_version(repository_id)
            except Exception as exc:  # noqa: BLE001 - the store is down: bookmarks still go out
                log.warning("watch cache: current version of %s: %s", repository_id, exc)
                current = window.latest
            if current > window.latest:
                window.wanted = max(window.wanted, current)
                self._pull_soon(window)
            for watcher in window.watchers:
                watcher.bookmark = window.latest
                watcher.wake.set()

    async def _window(self, repository_id: str) -> _Window:
        window = self._windows.get(repository_id)
        if window is not None:
            return window
        opening = self._opening.get(repository_id)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[_Window] = asyncio.get_running_loop().create_future()
        self._opening[repository_id] = future
        try:
            version = await self.feed.current_version(repository_id)
            window = self._windows[repository_id] = _Window(
                repository_id, version, self.window_size, self._on_cutoff
            )
            future.set_result(window)
            return window
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it
            raise
        finally:
            del self._opening[repository_id]

    # ------------------------------------------------------------------ watching
    async def watch(
        self,
        repository_id: str,
        *,
        kind: str | None = None,
        selector: LabelSelector | None = None,
        resource_version: int | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """The events of one watch (see the module docstring)."""
        if self._closed:
            raise Unavailable("the server is shutting down")
        selector = selector or LabelSelector()
        window = await self._window(repository_id)
        watcher = _Watcher(kind, selector, self.watcher_buffer)
        # registration and the window snapshot happen together (no await between them)
        window.watchers.add(watcher)
        registered = window.latest
        history = window.since(resource_version) if resource_version is not None else []
        try:
            if resource_version is None:
                objects, listed = await self.feed.list_resources(repository_id, kind)
                for obj in objects:
                    if selector.matches(_labels(obj)):
                        yield WatchEvent("ADDED", _version_of(obj), repository_id, obj)
                watcher.cursor = max(registered, listed)
                self.poke(repository_id, listed)
                yield WatchEvent("BOOKMARK", watcher.cursor, repository_id)
            elif resource_version < window.base:
                changes = self._from_store(watcher, repository_id, resource_version, registered)
                async for event in changes:
                    yield event
                    if event.type == "EXPIRED":
                        return
                watcher.cursor = max(watcher.cursor, registered)
            else:
                watcher.cursor = resource_version
                for change in history:
                    type_ = watcher.event_type(change)
                    if type_ is not None:
                        yield _change_event(change, type_)
                    watcher.cursor = change.resource_version
                if resource_version > registered:
                    self.poke(repository_id, resource_version)
            async for event in self._live(watcher, repository_id):
                yield event
        finally:
            window.watchers.discard(watcher)

    async def _from_store(
        self, watcher: _Watcher, repository_id: str, version: int, joined: int
    ) -> AsyncIterator[WatchEvent]:
        """Changes after ``version`` read from the store, up to where the watcher joined."""
        watcher.cursor = version
        while watcher.cursor < joined:
            try:
                page = await self.feed.changes_since(repository_id, watcher.cursor, limit=PAGE)
            except Expired as exc:
                yield WatchEvent("EXPIRED", exc.oldest, repository_id)
                return
            for change in page:
                type_ = watcher.event_type(change)
                if type_ is not None:
                    yield _change_event(change, type_)
                watcher.cursor = change.resource_version
            if len(page) < PAGE:
                break

    async def _live(self, watcher: _Watcher, repository_id: str) -> AsyncIterator[WatchEvent]:
        buffer = watcher.buffer
        while True:
            if watcher.end is not None:
                end = watcher.end
                yield WatchEvent(
                    end.type,
                    end.resource_version or watcher.cursor,
                    repository_id,
                    error=end.error,
                )
                return
            if buffer:
                change, type_ = buffer.popleft()
                if change.resource_version <= watcher.cursor:
                    continue
                watcher.cursor = change.resource_version
                yield _change_event(change, type_)
            elif watcher.bookmark:
                version = max(watcher.bookmark, watcher.cursor)
                watcher.bookmark = 0
                yield WatchEvent(
                    "BOOKMARK", version, repository_id, key=("bookmark", repository_id, version)
                )
            else:
                watcher.wake.clear()
                await watcher.wake.wait()


def _version_of(obj: dict[str, Any]) -> int:
    metadata = obj.get("metadata")
    raw = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    try:
        return int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return 0
