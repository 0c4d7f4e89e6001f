"""Down-converting hub documents for a response: one hook run per (kind, hook, version).

``DownConversions`` is process-wide: the ``DownCache``, the conversions in flight (a
document asked for by two requests at once is converted once) and module bytes by sha256.
``DownConversions.batch()`` gives one ``DownBatch`` per response. A resolver awaits
``batch.spec_in(...)``; the batch collects every conversion asked for while the response's
resolvers start — GraphQL starts the fields of all items of a
list in the same few event-loop turns — and then runs **one** ``ConversionRequest`` per
(kind, module, sha256, target version) for the misses (the runner cuts it into JSON Lines
batches: a page of 100 resources is one instance, never 100).

The module's bytes are read from the repository (``ModuleReader(repository, commit,
path)``) at the commits the caller names — the commit the served kinds came from, then the
commit that projected the document — and the first whose sha256 matches the definition is
used (read once per sha256 while cached). None found: ``HookModuleRefused`` ``missing``.

Failures: ``HookFailed``/``HookModuleRefused`` are permanent (fuel counts instructions), so
they are cached like results for every document of the failed request — a runaway hook
burns its limits once per document, not once per read. ``HookTimedOut`` and a busy pool
(``Unavailable``) are not cached. The runner is all or nothing, so a failure fails every
document of its request; each caller turns it into an error on its own field.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitstore.domain.content.kinds import KindDefinition
from gitstore.domain.conversion.contract import ConversionRequest, Direction, HookRef
from gitstore.domain.conversion.down import DownCache, DownKey, spec_digest
from gitstore.domain.conversion.errors import HookContext, HookFailed, HookModuleRefused

Convert = Callable[[ConversionRequest, bytes], Awaitable[list[dict[str, Any]]]]
ModuleReader = Callable[[str, str, str], Awaitable[bytes | None]]

TURNS = 3  # event-loop turns a batch waits for sibling resolvers to join
MODULES_KEPT = 16


@dataclass(frozen=True, slots=True)
class Wanted:
    """One resource's hub spec, wanted in ``version`` (a spoke of ``definition``)."""

    definition: KindDefinition
    version: str
    repository: str
    name: str
    spec: Mapping[str, Any]
    commits: tuple[str, ...]  # where the module may be read, in order


@dataclass
class DownConversions:
    convert: Convert
    read_module: ModuleReader
    cache: DownCache = field(default_factory=DownCache)
    runs: int = 0  # hook requests made (each may be several instances of up to 1,000 docs)
    documents: int = 0  # documents converted
    _inflight: dict[DownKey, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _modules: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def batch(self) -> DownBatch:
        return DownBatch(self)

    async def module(self, hook: HookRef, places: Sequence[tuple[str, str]]) -> bytes:
        cached = self._modules.get(hook.sha256)
        if cached is not None:
            self._modules.move_to_end(hook.sha256)
            return cached
        first: bytes | None = None
        for repository, commit in dict.fromkeys(places):
            data = await self.read_module(repository, commit, hook.module)
            if data is None:
                continue
            if hashlib.sha256(data).hexdigest() == hook.sha256:
                self._modules[hook.sha256] = data
                while len(self._modules) > MODULES_KEPT:
                    self._modules.popitem(last=False)
                return data
            first = first or data
        if first is not None:
            return first  # the runner refuses it, naming both digests
        raise HookModuleRefused(
            "missing",
            HookContext(hook.kind, hook.module),
            "the module file is not in the repository at the served commit",
        )


GroupKey = tuple[str, str, str, str, str]  # kind, module, sha256, hub, target


class DownBatch:
    """The down-conversions of one response (see the module doc)."""

    def __init__(self, shared: DownConversions) -> None:
        self.shared = shared
        self._pending: dict[GroupKey, list[tuple[DownKey, Wanted]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._digests: dict[tuple[str, str, str, tuple[str, ...]], str] = {}

    async def spec_in(self, wanted: Wanted) -> dict[str, Any]:
        """``wanted.spec`` converted to ``wanted.version``; raises ``HookFailed``,
        ``HookModuleRefused``, ``HookTimedOut`` or ``Unavailable`` (a busy pool)."""
        definition = wanted.definition
        hook = definition.conversion
        if wanted.version == definition.hub.name or hook.strategy != "Wasm":
            return dict(wanted.spec)
        # one digest per document per response (several fields may ask for the same one)
        doc = (wanted.repository, definition.kind, wanted.name, wanted.commits)
        digest = self._digests.get(doc)
        if digest is None:
            digest = self._digests[doc] = spec_digest(wanted.spec)
        key = DownKey(
            wanted.repository, definition.kind, wanted.name, digest, hook.sha256, wanted.version
        )
        shared = self.shared
        cached = shared.cache.get(key)
        if isinstance(cached, HookFailed | HookModuleRefused):
            raise cached.with_traceback(None)
        if cached is not None:
            return cached
        future = shared._inflight.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            shared._inflight[key] = future
            group = (definition.kind, hook.module, hook.sha256, definition.hub.name, wanted.version)
            self._pending.setdefault(group, []).append((key, wanted))
            if self._task is None:
                self._task = task = asyncio.ensure_future(self._dispatch())
                shared._tasks.add(task)  # the loop keeps only weak references
                task.add_done_callback(shared._tasks.discard)
        return await asyncio.shield(future)

    async def _dispatch(self) -> None:
        for _ in range(TURNS):
            await asyncio.sleep(0)  # let sibling resolvers join
        pending, self._pending, self._task = self._pending, {}, None
        for group, items in pending.items():
            await self._run(group, items)

    async def _run(self, group: GroupKey, items: list[tuple[DownKey, Wanted]]) -> None:
        kind, module, sha256, hub, target = group
        shared = self.shared
        hook = HookRef(kind, module, sha256)
        request = ConversionRequest(
            hook, Direction.FROM_HUB, hub, target, [w.spec for _, w in items]
        )
        places = [(w.repository, c) for _, w in items for c in w.commits]
        try:
            wasm = await shared.module(hook, places)
            shared.runs += 1
            converted = await shared.convert(request, wasm)
        except asyncio.CancelledError:
            for key, _ in items:
                self._settle(key, cancel=True)
            raise
        except Exception as error:  # noqa: BLE001 - every waiter gets it; permanent ones cached
            for key, _ in items:
                if isinstance(error, HookFailed | HookModuleRefused):
                    shared.cache.put(key, error)
                self._settle(key, error=error)
            return
        shared.documents += len(items)
        for (key, _), spec in zip(items, converted, strict=True):
            shared.cache.put(key, spec)
            self._settle(key, result=spec)

    def _settle(
        self,
        key: DownKey,
        result: dict[str, Any] | None = None,
        error: Exception | None = None,
        cancel: bool = False,
    ) -> None:
        future = self.shared._inflight.pop(key, None)
        if future is None or future.done():
            return
        if cancel:
            future.cancel()
        elif error is not None:
            future.set_exception(error)
            future.exception()  # retrieved: a waiter that went away leaves no warning
        else:
            assert result is not None
            future.set_result(result)
