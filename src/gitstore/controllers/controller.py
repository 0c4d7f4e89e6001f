"""What a controller is: a class with ``reconcile``, or a decorated function.

```python
class Readiness(Controller):
    name = "readiness"
    kind = "Product"
    finalizer = None                 # or "example.com/cleanup": cleanup() runs on deletion

    async def reconcile(self, ctx: Context, obj: dict) -> Result | None:
        await ctx.update_status(obj, {...})     # CONFLICT -> retried (backoff)
        return Result(requeue_after=60)         # or None: done until the object changes

@controller(kind="Product", name="hello")
async def hello(ctx: Context, obj: dict) -> None: ...
```

Reconcile is level-triggered: it gets the object's *current* state from the informer's
cache (never the event that woke it) and must make the world match it, so it can run any
number of times. Raise ``RetryableError`` / ``PermanentError`` (``errors``) to say what
went wrong; anything else is retried with backoff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .client import ApiClient, payload_of

STATUS = """
mutation($input: UpdateResourceStatusInput!) {
  updateResourceStatus(input: $input) { resource { object } userErrors { field message code } }
}"""
METADATA = """
mutation($input: UpdateResourceMetadataInput!) {
  updateResourceMetadata(input: $input) { resource { object } userErrors { field message code } }
}"""


@dataclass(frozen=True, slots=True)
class Result:
    """Reconcile again after ``requeue_after`` seconds even if nothing changes."""

    requeue_after: float | None = None


@dataclass
class Context:
    """What a reconcile may use: the API client and the informer's cache of its kind."""

    client: ApiClient
    repository: str
    cache: dict[str, dict[str, Any]]

    def remember(self, obj: dict[str, Any]) -> None:
        """Put an object a write returned into the cache, unless the watch already brought a
        newer version of it (a write's answer may arrive after the next change's event)."""
        name = obj["metadata"]["name"]
        cached = self.cache.get(name)
        if cached is None or _rv(cached) < _rv(obj):
            self.cache[name] = obj

    async def update_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Write ``status`` with ``obj``'s resourceVersion as precondition; the new object.
        A stale version raises ``Conflict`` (the runtime requeues the key at once)."""
        meta = obj["metadata"]
        data = await self.client.execute(
            STATUS,
            {
                "input": {
                    "repository": self.repository,
                    "kind": obj["kind"],
                    "name": meta["name"],
                    "resourceVersion": meta["resourceVersion"],
                    "status": status,
                }
            },
        )
        return dict(payload_of(data, "updateResourceStatus")["resource"]["object"])

    async def set_finalizers(self, obj: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        meta = obj["metadata"]
        data = await self.client.execute(
            METADATA,
            {
                "input": {
                    "repository": self.repository,
                    "kind": obj["kind"],
                    "name": meta["name"],
                    "resourceVersion": meta["resourceVersion"],
                    "finalizers": finalizers,
                }
            },
        )
        return dict(payload_of(data, "updateResourceMetadata")["resource"]["object"])


def _rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("resourceVersion") or 0)


class Controller:
    """Subclass and set ``name`` and ``kind``; override ``reconcile`` (and ``cleanup`` with a
    ``finalizer``). ``label_selector`` narrows what the informer lists and watches."""

    name: str = ""
    kind: str = ""
    label_selector: str | None = None
    finalizer: str | None = None

    async def reconcile(self, ctx: Context, obj: dict[str, Any]) -> Result | None:
        raise NotImplementedError

    async def cleanup(self, ctx: Context, obj: dict[str, Any]) -> None:
        """Runs once ``deletionTimestamp`` is set, before the finalizer is removed."""
        return None

    async def gone(self, ctx: Context, name: str) -> None:
        """Runs when the key's object is no longer there (deleted; no finalizer needed): for
        what is kept *outside* the object by name, e.g. a proposing controller's open change
        requests. Objects deleted while no replica watched are caught by ``held``."""
        return None

    async def held(self, ctx: Context) -> list[str]:
        """Names of objects this controller keeps something for outside them (default:
        none). When a replica becomes leader and its informer has listed, each held name
        with no object is queued, so ``gone`` runs for objects deleted while no replica
        watched (a crash, a restart)."""
        return []

    def key_of(self, event_type: str, obj: dict[str, Any]) -> str:
        """The work-queue key of a change (default: the object's name)."""
        return str(obj["metadata"]["name"])


class KeyController(Controller):
    """A controller whose keys are not object names (e.g. one key per repository, to batch
    changes): override ``key_of`` and ``reconcile_key``; no finalizers."""

    async def reconcile_key(self, ctx: Context, key: str) -> Result | None:
        raise NotImplementedError


ReconcileFn = Callable[[Context, dict[str, Any]], Awaitable[Result | None]]


class FunctionController(Controller):
    def __init__(
        self,
        fn: ReconcileFn,
        *,
        name: str,
        kind: str,
        label_selector: str | None = None,
        finalizer: str | None = None,
        cleanup: Callable[[Context, dict[str, Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.name, self.kind = name, kind
        self.label_selector, self.finalizer = label_selector, finalizer
        self._fn, self._cleanup = fn, cleanup

    async def reconcile(self, ctx: Context, obj: dict[str, Any]) -> Result | None:
        return await self._fn(ctx, obj)

    async def cleanup(self, ctx: Context, obj: dict[str, Any]) -> None:
        if self._cleanup is not None:
            await self._cleanup(ctx, obj)


def controller(
    *,
    kind: str,
    name: str | None = None,
    label_selector: str | None = None,
    finalizer: str | None = None,
    cleanup: Callable[[Context, dict[str, Any]], Awaitable[None]] | None = None,
) -> Callable[[ReconcileFn], FunctionController]:
    """Turn ``async def fn(ctx, obj)`` into a controller (named after the function)."""

    def wrap(fn: ReconcileFn) -> FunctionController:
        return FunctionController(
            fn,
            name=name or fn.__name__.replace("_", "-"),
            kind=kind,
            label_selector=label_selector,
            finalizer=finalizer,
            cleanup=cleanup,
        )

    return wrap
