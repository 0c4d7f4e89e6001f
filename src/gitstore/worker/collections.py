"""Rule-based collections in the projection: the ``collection`` index holds rule matches.

Storefront reads find a collection's products through the product index ``collection``
(docs/storefront.md), so the projection puts there, for each product, the collections its
``spec.collections`` names **and** the rule-based collections of the target commit whose
rules it satisfies (``domain.content.rules``; ``collection-status`` likewise). Reads never
evaluate rules.

**The rules at the target** (:func:`rule_index`). The scope's current rule-based collections
are read from the KV by their index entry ``selection = rules`` (``domain.projection``; by
page) and overlaid with the plan: a planned delete removes a collection, a planned upsert
replaces it with the file at the target (parsed here; an invalid file changes nothing, as
the KV keeps the last valid document; a manual collection is not rule-based). Nothing is
read when the plan writes no product and no collection and no unfinished claim asks for a
re-index: such a plan costs nothing extra. A plan that writes products but no collection
costs one index lookup (the rule-based collections: usually an empty page or a few
documents), never a listing.

**Products the plan writes** (:meth:`RuleIndex.adjust`): each prepared product upsert gets
its collection entries recomputed with the target's rules (its body is decoded for that;
only when the target has rule-based collections). The body written is unchanged.

**Re-indexing.** When the set of rule-based collections or what decides their membership
(``rules`` as a set, ``appliedDisjunctively``) differs between the KV and the target, every
product the plan does not write must be re-indexed too: its KV document is read (by page,
never from Git) and upserted again, same body, new index entries, in the *same projection*
(same sequence, version and head CAS as the plan's writes; the projector counts them into
the single-batch-or-chunks decision). Skipped: products the plan deletes and products the
plan upserts validly (their new document carries the new entries); a planned product whose
file is invalid keeps its old document, which is re-indexed like the others.

Crash safety: a chunked projection that re-indexes says so in its claim
(``Claim.reindex``). The KV may then hold a collection document of the dead writer's target
already, so comparing the KV with the target could miss the change; a projection taking
such a claim over re-indexes every product whatever it compares. A single batch is atomic
and needs nothing. Re-index chunks come after the plan's chunks, so when one is prepared
every plan chunk has been prepared and the set of validly written products is known; the
products a re-index chunk reads are ones no other chunk of the projection writes, so reading
them while an earlier chunk is being applied is safe.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gitstore.backends.kv import Document, KvStore, Upsert, encode_upsert
from gitstore.backends.kv.base import MAX_PAGE_SIZE
from gitstore.domain.content import DEFAULT_MAX_MANIFEST_BYTES, KindRegistry, ManifestError
from gitstore.domain.content.files import parse_file
from gitstore.domain.content.paths import identity_for_path
from gitstore.domain.content.rules import RuleSet, matching_collections, rule_set
from gitstore.domain.keys import ChannelScope
from gitstore.domain.projection import document_indexes
from gitstore.worker.changes import FileAt, Plan
from gitstore.worker.parsing import Prepared

PRODUCT, COLLECTION = "product", "collection"
PRODUCTS_DIR, COLLECTIONS_DIR = "products/", "collections/"  # the path convention

Fetch = Callable[[list[str]], Awaitable[Mapping[str, bytes]]]


def product_indexes(
    name: str, spec: Mapping[str, Any], rules: Mapping[str, RuleSet]
) -> dict[str, list[str]]:
    """A product's index entries with the rule-based collections it matches added."""
    indexes = document_indexes("Product", name, spec)
    matched = matching_collections(rules, spec, name)
    if matched:
        status = indexes["status"][0]
        collections = sorted({*indexes["collection"], *matched})
        indexes["collection"] = collections
        indexes["collection-status"] = [f"{c}|{status}" for c in collections]
    return indexes


def reindexed(kind: str, name: str, body: bytes, indexes: Mapping[str, list[str]]) -> Upsert:
    """The upsert of an already encoded ``body`` with new index entries."""
    return replace(encode_upsert(kind, name, {}, indexes=indexes), body=body)


def with_collections(upsert: Upsert, matched: Iterable[str]) -> Upsert:
    """A prepared product upsert with ``matched`` added to its ``collection`` and
    ``collection-status`` entries — what :func:`reindexed` with :func:`product_indexes`
    gives, built from the upsert's canonical index JSON (the hot path of a first projection:
    no re-validation of entries ``encode_upsert`` already checked; collection names are
    document names, so valid index values)."""
    indexes: dict[str, list[str]] = json.loads(upsert.indexes)
    status = indexes["status"][0]
    collections = sorted({*indexes.get("collection", ()), *matched})
    if collections:  # the canonical form leaves empty indexes out
        indexes["collection"] = collections
        indexes["collection-status"] = sorted(f"{c}|{status}" for c in collections)
    indexes = dict(sorted(indexes.items()))
    canonical = json.dumps(indexes, separators=(",", ":"), ensure_ascii=False)
    entries = tuple((index, v) for index, values in indexes.items() for v in values)
    return Upsert(upsert.kind, upsert.name, upsert.body, canonical, entries)


def _spec(value: Any) -> Mapping[str, Any]:
    spec = value.get("spec") if isinstance(value, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def _keys(rules: Mapping[str, RuleSet]) -> dict[str, tuple[Any, bool]]:
    return {name: r.key() for name, r in rules.items()}


@dataclass(slots=True)
class RuleIndex:
    """The rule-based collections of one projection's target, and its re-index pass."""

    kv: KvStore
    scope: ChannelScope
    rules: dict[str, RuleSet]
    reindex: bool = False
    products: int = 0  # products in the KV when re-indexing: a bound of the extra writes
    deleted: frozenset[str] = frozenset()  # products the plan deletes
    written: set[str] = field(default_factory=set)  # products the plan upserts validly
    _cursor: str | None = None
    _done: bool = False

    @property
    def extra(self) -> int:
        """At most how many re-index writes the projection adds."""
        return self.products if self.reindex else 0

    def chunks(self, batch_size: int) -> int:
        """How many chunks of ``batch_size`` the re-index pass needs (0: none)."""
        if not self.reindex or self.products == 0:
            return 0
        return -(-self.products // batch_size)

    async def adjust(self, files: list[Prepared]) -> list[Prepared]:
        """The prepared files with each valid product's collection entries recomputed;
        remembers which products the plan writes (they are not re-indexed)."""
        products = [p for p in files if p.upsert is not None and p.upsert.kind == PRODUCT]
        self.written.update(p.upsert.name for p in products if p.upsert is not None)
        if not self.rules or not products:
            return files
        return await asyncio.to_thread(self._adjust, files)

    def _adjust(self, files: list[Prepared]) -> list[Prepared]:
        out = []
        for p in files:
            u = p.upsert
            if u is not None and u.kind == PRODUCT:
                spec = _spec(json.loads(u.body))
                matched = matching_collections(self.rules, spec, u.name)
                named = {v for index, v in u.entries if index == "collection"}
                if not named.issuperset(matched):  # else its entries already say it all
                    p = replace(p, upsert=with_collections(u, matched))
            out.append(p)
        return out

    async def next_chunk(self, budget: int, *, last: bool = False) -> list[Upsert]:
        """Re-index writes for the next ``budget`` products of the KV listing (``last``:
        every product left). Products the plan deletes or writes are skipped."""
        out: list[Upsert] = []
        read = 0
        while not self._done and (last or read < budget):
            first = MAX_PAGE_SIZE if last else min(MAX_PAGE_SIZE, budget - read)
            page = await self.kv.list_documents(
                self.scope, PRODUCT, first=first, after=self._cursor
            )
            read += len(page.items)
            self._cursor = page.end_cursor or self._cursor
            self._done = not page.has_next_page
            skip = self.deleted | self.written
            docs = [d for d in page.items if d.name not in skip]
            if docs:
                out.extend(await asyncio.to_thread(self._reindex, docs))
        return out

    def _reindex(self, docs: Sequence[Document]) -> list[Upsert]:
        return [
            reindexed(d.kind, d.name, d.body, product_indexes(d.name, _spec(d.value()), self.rules))
            for d in docs
        ]


async def _rule_collections(kv: KvStore, scope: ChannelScope) -> dict[str, RuleSet]:
    """The scope's rule-based collections, by their ``selection`` index entry."""
    found: dict[str, RuleSet] = {}
    after: str | None = None
    while True:
        page = await kv.lookup(
            scope, COLLECTION, "selection", "rules", first=MAX_PAGE_SIZE, after=after
        )
        for doc in page.items:
            rules = rule_set(_spec(doc.value()))
            if rules is not None:
                found[doc.name] = rules
        if not page.has_next_page or page.end_cursor is None:
            return found
        after = page.end_cursor


def _collection_files(files: Iterable[FileAt], registry: KindRegistry) -> list[FileAt]:
    out = []
    for f in files:
        if not f.path.startswith(COLLECTIONS_DIR):
            continue
        try:
            identity = identity_for_path(f.path, registry)
        except ManifestError:
            continue
        if identity is not None and identity.kind == "Collection":
            out.append(f)
    return out


async def rule_index(
    kv: KvStore,
    scope: ChannelScope,
    plan: Plan,
    *,
    fetch: Fetch,
    registry: KindRegistry,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
    force_reindex: bool = False,
) -> RuleIndex | None:
    """The rule-based collections at ``plan.target`` and whether every product needs
    re-indexing (``force_reindex``: an unfinished claim said so); None when the plan
    writes neither products nor collections and nothing forces a re-index."""
    # a relocated collection (only its path moved) keeps the rules the KV holds
    collection_files = [f for f in _collection_files(plan.upserts, registry) if f.relocated is None]
    collection_deletes = [name for kind, name in plan.deletes if kind == COLLECTION]
    products = any(f.path.startswith(PRODUCTS_DIR) for f in plan.upserts)
    if not (products or collection_files or collection_deletes or force_reindex):
        return None
    current = await _rule_collections(kv, scope)
    target = dict(current)
    for name in collection_deletes:
        target.pop(name, None)
    wanted = [f.blob_id for f in collection_files if f.content is None]
    fetched = await fetch(wanted) if wanted else {}
    for f in collection_files:
        content = f.content if f.content is not None else fetched.get(f.blob_id)
        if content is None:
            continue  # not readable: the KV keeps its document, and so do we
        parsed = parse_file(f.path, f.blob_id, content, registry, max_bytes=max_bytes)
        if parsed.manifest is None:
            continue  # invalid: the KV keeps the last valid document
        rules = rule_set(parsed.manifest.spec)
        if rules is None:
            target.pop(parsed.manifest.name, None)
        else:
            target[parsed.manifest.name] = rules
    reindex = force_reindex or _keys(current) != _keys(target)
    index = RuleIndex(
        kv,
        scope,
        target,
        reindex=reindex,
        deleted=frozenset(name for kind, name in plan.deletes if kind == PRODUCT),
    )
    if reindex:
        index.products = (await kv.list_documents(scope, PRODUCT, first=0)).total_count
    return index
