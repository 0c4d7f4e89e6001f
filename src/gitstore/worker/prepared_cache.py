"""A bounded, process-local cache of prepared files: parse a blob once, project it anywhere.

Why: publishing a release projects a commit into a release buffer (``live-a``/``live-b``)
that ``draft`` usually holds already — an engineer pushes ``main``, then tags the same
commit, and the consumer (one event at a time per repository) projects ``draft`` first and
the release right after. Without a cache every manifest is fetched, parsed, validated and
encoded twice. With it the second projection looks each planned file up before preparing
and only fetches and prepares the misses.

**What a result depends on.** ``parsing.prepare_file(path, blob_id, content, registry,
max_bytes)`` is a pure function of its arguments and of code fixed for the life of the
process (``parse_manifest``, ``validate_manifest``, ``document_value``/``document_kind``/
``document_indexes``, ``encode_upsert``); ``content`` is determined by ``blob_id`` (git's
object id is the hash of the content). So an entry is keyed by

* ``repository`` — not needed for correctness, but one tenant's content never answers for
  another's (no reliance on hash collisions being impossible across tenants);
* ``path`` and ``blob_id`` — the document carries both; a changed file has a new blob id;
* the **context**: ``max_bytes`` and the **fingerprint of the kind registry** — a SHA-256
  over each definition's ``KindDefinition.fingerprint`` (group, names, versions and schemas,
  the conversion strategy, the hook module's path and ``sha256``). A changed definition or a
  new hook (a new ``sha256``) is a new context, so no file is ever answered with the hub
  form an older hook or schema produced; equal definitions read again (another commit with
  the same ``kinds/``, a registry evicted from ``KindsLoader`` and re-read, another
  repository) share entries. At most ``MAX_CONTEXTS`` contexts are kept (LRU); dropping one
  drops its entries.

**Conversion failures are not cached.** A file written in a spoke version is stored in its
hub form (``worker.hub``), produced by the hook module read *from the commit*: its result
also depends on that file of the tree, and a module that is missing or whose bytes do not
match the declared ``sha256`` fails at one commit and converts at the next with the same
definitions. A converted file is cached (the ``sha256`` in the fingerprint pins the module
bytes that produced it: other bytes are refused by the runner); a file that failed
conversion (rule ``conversion``) is prepared again next time.

The value is the ``Prepared`` itself (frozen: ``Upsert`` holds bytes, strings and tuples),
so a hit is exactly what preparing again would produce. **Invalid files are cached too**
(``Prepared`` with ``upsert=None`` and its ``errors``): they are as deterministic as valid
ones, small, and a release of a commit with an invalid file would otherwise re-parse it (and
commit statuses get the same errors from ``ProjectionResult.checked``). An ``encode_upsert``
failure raises out of preparing and is never cached.

**Bound.** ``max_bytes`` (``worker.prepared_cache_bytes``, default 128 MiB, 0 = off) caps
the sum of each entry's *cost*: the encoded JSON body, the index text and entries, path and
blob id (or the error texts of an invalid file), plus ``ENTRY_OVERHEAD`` for the Python
objects around them — an estimate of the memory held (within a few per cent of what
tracemalloc measures for benchmark products, ~2.7 KB each). Eviction is least recently used
(a hit refreshes an entry); an entry costing more than the whole bound is not kept. A
10,000-product catalogue costs ~27 MB; the default holds ~50,000 such products.

**Threads.** The projector looks up and stores on the event loop, but every method takes
one lock, so calling it from preparing threads is safe as well. Hits and misses go to
``WorkerMetrics.prepared_cache`` (``result="hit"|"miss"``) and the bytes held to
``prepared_cache_bytes``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gitstore.domain.content import KindRegistry
from gitstore.domain.conversion.hub import RULE as CONVERSION
from gitstore.domain.errors import FailedPrecondition
from gitstore.worker.metrics import WorkerMetrics
from gitstore.worker.parsing import Prepared

DEFAULT_PREPARED_CACHE_BYTES = 128 * 1024 * 1024
# Bytes of the Python objects around an entry's own bytes, and around each index entry
# (a tuple of two strings): estimates, measured with tracemalloc on benchmark products.
ENTRY_OVERHEAD = 700
INDEX_ENTRY_OVERHEAD = 150
MAX_CONTEXTS = 8


@dataclass(frozen=True, slots=True)
class Context:
    """What preparing depends on besides the file: the size limit and the kind registry."""

    max_bytes: int
    kinds: str  # registry_fingerprint of the registry


def registry_fingerprint(registry: KindRegistry) -> str:
    """A SHA-256 over the fingerprints of the registry's definitions, in registry order."""
    digest = hashlib.sha256()
    for definition in registry:
        digest.update(definition.fingerprint.encode())
    return digest.hexdigest()


def cacheable(prepared: Prepared) -> bool:
    """Whether ``prepared`` may be kept: not a conversion failure (see the module doc)."""
    return not any(e.rule == CONVERSION for e in prepared.errors)


Key = tuple[str, str, str, Context]  # (repository, path, blob id, context)


def entry_cost(prepared: Prepared) -> int:
    """The bytes an entry is charged against the bound (see the module doc)."""
    own = len(prepared.path) + len(prepared.blob_id)
    upsert = prepared.upsert
    if upsert is not None:
        own += len(upsert.body) + len(upsert.indexes) + len(upsert.kind) + len(upsert.name)
        own += sum(len(i) + len(v) + INDEX_ENTRY_OVERHEAD for i, v in upsert.entries)
    for error in prepared.errors:
        own += len(error.path) + len(error.field) + len(error.rule) + len(error.message)
    return own + ENTRY_OVERHEAD


class PreparedCache:
    """Prepared files by (repository, path, blob id, context), LRU within ``max_bytes``."""

    def __init__(self, max_bytes: int, *, metrics: WorkerMetrics | None = None) -> None:
        self.max_bytes = max(0, max_bytes)
        self.metrics = metrics
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Key, tuple[Prepared, int]] = OrderedDict()
        self._bytes = 0
        self._contexts: OrderedDict[Context, None] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def size(self) -> int:
        """Bytes charged by the entries held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def context(self, registry: KindRegistry, max_bytes: int) -> Context:
        """The context of files prepared with ``registry`` and ``max_bytes``."""
        ctx = Context(max_bytes, registry_fingerprint(registry))
        with self._lock:
            if ctx in self._contexts:
                self._contexts.move_to_end(ctx)
            else:
                self._contexts[ctx] = None
                while len(self._contexts) > MAX_CONTEXTS:
                    old, _ = self._contexts.popitem(last=False)
                    self._drop_context(old)
        return ctx

    def get_many(
        self, context: Context, repository: str, files: Sequence[tuple[str, str]]
    ) -> list[Prepared | None]:
        """The cached result of each ``(path, blob id)``, None for a miss; in order."""
        if not self.enabled or not files:
            return [None] * len(files)
        found: list[Prepared | None] = []
        with self._lock:
            entries = self._entries
            for path, blob_id in files:
                key = (repository, path, blob_id, context)
                entry = entries.get(key)
                if entry is None:
                    found.append(None)
                else:
                    entries.move_to_end(key)
                    found.append(entry[0])
        hits = sum(1 for p in found if p is not None)
        self._count(hits, len(found) - hits)
        return found

    def put_many(self, context: Context, repository: str, prepared: Iterable[Prepared]) -> None:
        """Keep each result (evicting the least recently used beyond the bound)."""
        if not self.enabled:
            return
        with self._lock:
            if context not in self._contexts:
                return  # its context was dropped meanwhile: do not resurrect its entries
            entries = self._entries
            for p in prepared:
                cost = entry_cost(p)
                if cost > self.max_bytes or not cacheable(p):
                    continue
                key = (repository, p.path, p.blob_id, context)
                old = entries.pop(key, None)
                if old is not None:
                    self._bytes -= old[1]
                entries[key] = (p, cost)
                self._bytes += cost
            while self._bytes > self.max_bytes:
                _, (_, cost) = entries.popitem(last=False)
                self._bytes -= cost
            size = self._bytes
        if self.metrics is not None:
            self.metrics.prepared_cache_bytes.set(size)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._contexts.clear()
            self._bytes = 0
        if self.metrics is not None:
            self.metrics.prepared_cache_bytes.set(0)

    def _drop_context(self, context: Context) -> None:
        """Drop every entry of ``context`` (lock held)."""
        stale = [key for key in self._entries if key[3] == context]
        for key in stale:
            _, cost = self._entries.pop(key)
            self._bytes -= cost

    def _count(self, hits: int, misses: int) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses
        if self.metrics is not None:
            self.metrics.prepared_cache.labels("hit").inc(hits)
            self.metrics.prepared_cache.labels("miss").inc(misses)


def merge(cached: Sequence[Prepared | None], prepared: Sequence[Prepared]) -> list[Prepared]:
    """``cached`` with each None replaced by the next of ``prepared`` (the misses, in order)."""
    misses = sum(1 for p in cached if p is None)
    if misses != len(prepared):
        raise FailedPrecondition(
            f"{len(prepared)} prepared files for {misses} cache misses", field="prepared"
        )
    fresh = iter(prepared)
    return [p if p is not None else next(fresh) for p in cached]
