"""The informer: list + watch of one repository's resources of one kind, with a local cache.

``Informer(client, repository, kind)`` lists through ``resources(...)`` (the objects and the
resourceVersion to watch from, one snapshot), then watches with ``watchResources`` from that
version, keeping ``cache`` (name -> whole object) up to date and calling every handler with
``(event_type, object)`` for each change. The watch resumes from the last version received
(BOOKMARKs included) when the connection drops or the server cuts it off; ``EXPIRED`` means
a relist: the new list replaces the cache and every object that vanished meanwhile is
reported ``DELETED``. ``synced`` is set once the first list is in the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .client import ApiClient
from .errors import ApiError, RetryableError, WatchExpired

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[None] | None]

LIST = """
query($repository: String!, $kind: String, $labelSelector: String) {
  resources(repository: $repository, kind: $kind, labelSelector: $labelSelector) {
    resourceVersion items { object }
  }
}"""
WATCH = """
subscription($repository: String!, $kind: String, $rv: String, $labelSelector: String) {
  watchResources(repository: $repository, kind: $kind, resourceVersion: $rv,
                 labelSelector: $labelSelector) { type resourceVersion object }
}"""


def name_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


class Informer:
    def __init__(
        self,
        client: ApiClient,
        repository: str,
        kind: str | None,
        *,
        label_selector: str | None = None,
        retry_delay: float = 0.5,
        max_retry_delay: float = 10.0,
    ) -> None:
        self.client = client
        self.repository = repository
        self.kind = kind
        self.label_selector = label_selector
        self.cache: dict[str, dict[str, Any]] = {}
        self.resource_version: str | None = None
        self.synced = asyncio.Event()
        self.relists = 0
        self._handlers: list[Handler] = []
        self.on_relist: Callable[[], None] | None = None
        self._retry = retry_delay
        self._max_retry = max_retry_delay

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, name: str) -> dict[str, Any] | None:
        return self.cache.get(name)

    async def run(self) -> None:
        """List and watch until cancelled; transport failures are retried with backoff, a
        refusal (``PERMISSION_DENIED``, ``NOT_FOUND``, ...) is logged and retried every
        ``max_retry_delay`` seconds (rights may be granted later)."""
        delay = self._retry
        while True:
            try:
                if self.resource_version is None:
                    await self.relist()
                await self._watch()
                delay = self._retry
            except WatchExpired:
                log.info("watch of %s %s expired: relisting", self.repository, self.kind)
                self.resource_version = None
            except RetryableError as exc:
                log.warning("watch of %s %s: %s; retrying", self.repository, self.kind, exc)
                await asyncio.sleep(delay)
                delay = min(self._max_retry, delay * 2)
            except ApiError as exc:  # refused (rights, unknown repository): may be fixed later
                log.error("list/watch of %s %s refused: %s", self.repository, self.kind, exc)
                await asyncio.sleep(self._max_retry)
            except Exception:  # an answer it cannot read: a dead informer would stall for good
                log.exception("list/watch of %s %s failed; relisting", self.repository, self.kind)
                self.resource_version = None
                await asyncio.sleep(delay)
                delay = min(self._max_retry, delay * 2)

    async def relist(self) -> None:
        data = await self.client.execute(LIST, self._args())
        listing = data["resources"]
        fresh = {name_of(item["object"]): item["object"] for item in listing["items"]}
        gone = [obj for name, obj in self.cache.items() if name not in fresh]
        old = self.cache
        self.cache = fresh
        self.resource_version = listing["resourceVersion"]
        self.relists += 1
        if self.on_relist is not None:
            self.on_relist()
        for obj in gone:
            await self._emit("DELETED", obj)
        for name, obj in fresh.items():
            before = old.get(name)
            if before is None:
                await self._emit("ADDED", obj)
            elif before["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                await self._emit("MODIFIED", obj)
        self.synced.set()

    async def _watch(self) -> None:
        variables = {**self._args(), "rv": self.resource_version}
        async for data in self.client.subscribe(WATCH, variables):
            event = data["watchResources"]
            kind, rv = event["type"], event["resourceVersion"]
            if kind == "EXPIRED":
                raise WatchExpired(f"resourceVersion {self.resource_version} is too old")
            if kind != "BOOKMARK":
                obj = event["object"]
                if kind == "DELETED":
                    self.cache.pop(name_of(obj), None)
                else:
                    self.cache[name_of(obj)] = obj
                await self._emit(kind, obj)
            self.resource_version = rv
        raise RetryableError("the server completed the watch")

    async def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        for handler in self._handlers:
            result = handler(kind, obj)
            if result is not None:
                await result

    def _args(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "kind": self.kind,
            "labelSelector": self.label_selector,
        }
