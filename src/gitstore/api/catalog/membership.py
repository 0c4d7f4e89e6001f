"""``Product.collections``: every collection a product is in, as the storefront filters see it.

A product is in a collection when it names the collection in its ``spec.collections``, when
the collection lists it in its ``spec.products``, or when it satisfies the collection's
``spec.rules`` — exactly the members ``products(filter: {collection})`` returns (``reads``;
the worker writes the rule matches into the product's ``collection`` index,
``worker/collections.py``). The KV document of a product does not carry its index entries,
so its membership is worked out from the same KV scope: the scope's collections that select
by rules or by a product list are read once per ``catalog`` selection (their ``selection``
index entry, ``domain.projection``: one index page each, usually a few documents), and the
product is checked against them with the projection's own rule evaluation
(``domain.content.rules``). Both read the collection documents of the one scope the
``catalog`` selection resolved, so the answer agrees with the collection filter.

The selections of a scope only change with a batch the worker applies, and every batch moves
the scope's head (its ``sequence`` grows; a large commit is switched to whole, never applied in
view). So they are cached in-process per store by ``(scope, head version, head sequence)``: a
storefront reading product pages pays the reads once per scope state, not once per request
(the catalogue benchmark reads ``collections`` on every product request).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gitstore.backends.kv import ChannelHead, Document, KvStore
from gitstore.backends.kv.base import MAX_PAGE_SIZE
from gitstore.domain.content.rules import RuleSet, matching_collections, rule_set
from gitstore.domain.keys import ChannelScope

from ..graphql.lru import LRU

COLLECTION = "collection"
CACHED_STATES = 512
_Key = tuple[ChannelScope, str, int]
_caches: weakref.WeakKeyDictionary[KvStore, LRU[_Key, _Selections]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class _Selections:
    rules: dict[str, RuleSet]  # rule-based collection -> its rules
    listed: dict[str, frozenset[str]]  # collection with a product list -> the names it lists


class CollectionMembership:
    """Answers ``collections_of`` for the products of one KV scope (one per ``catalog``)."""

    def __init__(
        self,
        kv: KvStore,
        scope: ChannelScope,
        head: Callable[[], Awaitable[ChannelHead | None]] | None = None,
    ) -> None:
        self.kv = kv
        self.scope = scope
        self.head = head  # the view's (read once per request); None: never cached
        self._selections: asyncio.Future[_Selections] | None = None

    async def collections_of(self, name: str, spec: dict[str, Any]) -> list[str]:
        """The sorted names of the collections product ``name`` (with ``spec``) is in."""
        selections = await self._load()
        named = spec.get("collections")
        found = {c for c in named if isinstance(c, str)} if isinstance(named, list) else set()
        found.update(c for c, products in selections.listed.items() if name in products)
        found.update(matching_collections(selections.rules, spec, name))
        return sorted(found)

    def _load(self) -> asyncio.Future[_Selections]:
        if self._selections is None:
            self._selections = asyncio.ensure_future(self._read())
        return self._selections

    async def _read(self) -> _Selections:
        head = await self.head() if self.head is not None else None
        if head is None:
            return await self._read_store()
        cache = _caches.get(self.kv)
        if cache is None:
            cache = _caches.setdefault(self.kv, LRU(CACHED_STATES))
        key = (self.scope, head.version, head.sequence)
        cached = cache.get(key)
        if cached is None:
            cached = await self._read_store()
            cache.put(key, cached)
        return cached

    async def _read_store(self) -> _Selections:
        rules: dict[str, RuleSet] = {}
        async for document in self._selecting("rules"):
            found = rule_set(_spec(document))
            if found is not None:
                rules[document.name] = found
        listed: dict[str, frozenset[str]] = {}
        async for document in self._selecting("products"):
            products = _spec(document).get("products")
            if isinstance(products, list):
                listed[document.name] = frozenset(p for p in products if isinstance(p, str))
        return _Selections(rules, listed)

    async def _selecting(self, selection: str) -> AsyncIterator[Document]:
        after: str | None = None
        while True:
            page = await self.kv.lookup(
                self.scope, COLLECTION, "selection", selection, first=MAX_PAGE_SIZE, after=after
            )
            for document in page.items:
                yield document
            if not page.has_next_page or page.end_cursor is None:
                return
            after = page.end_cursor


def _spec(document: Document) -> dict[str, Any]:
    spec = document.value().get("spec")
    return spec if isinstance(spec, dict) else {}
