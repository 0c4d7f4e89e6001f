"""Storefront reads: products, categories and collections served from the KV projection.

``CatalogReads.open(principal, repository, channel)`` checks access and resolves the channel
to one KV scope (``access``); the returned :class:`CatalogView` is what every field of one
``catalog(...)`` selection reads from, so a query never mixes two releases. Nothing here reads
Git.

How each read uses the KV store (indexes as the worker writes them, docs/projection.md):

* one resource by name: ``get`` through a per-view loader that gathers the names asked for in
  the same event-loop tick into one ``get_many`` (aliased ``product(name:)`` fields cost one
  round trip); by handle: index ``handle``; by id: the name inside the id;
* ``products``: no filter → ``list_documents``; ``status`` → index ``status``; ``category`` →
  index ``category``; both → index ``category-status`` (``<category>|<status>``). Each is one
  KV page, ordered by name, with its total count;
* a ``collection`` filter is the union of the products whose index ``collection`` holds it
  (their ``spec.collections``) and the products the collection document lists in
  ``spec.products``. Without a list in the document it is one index page like the others
  (``collection-status`` with a status). With a list, the members are gathered (index pages
  and one ``get_many`` for the listed names), filtered by status/category in memory, ordered by
  name and paged with the same cursors: O(size of the collection) per page. Rule-based
  (automatic) collections need nothing here: the worker writes each product's rule matches
  into the same ``collection`` / ``collection-status`` entries (``worker/collections.py``).
* ``categories(filter: {parent})`` → index ``parent``; ``collections`` → ``list_documents``.
* a product's ``collections`` (every collection it is in, by rule too): ``membership``, the
  scope's rule-based and product-listing collections read once per view.

Connections are ordered by name; cursors are the KV store's (base64 of the last name), so a
cursor from one page works with the next whatever path served it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from gitstore.backends.kv import ChannelHead, Document, KvStore, Page
from gitstore.backends.kv.base import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from gitstore.backends.metadata.base import MetadataStore, RepositoryRecord
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.keys import ChannelScope

from ..graphql.relay import Connection
from ..identity.principal import Principal
from .access import Channel, readable_repository, resolve_scope
from .ids import decode_resource_id
from .membership import CollectionMembership
from .resources import CatalogResource

PRODUCT, CATEGORY, COLLECTION = "product", "category", "collection"
KINDS = {PRODUCT: "Product", CATEGORY: "Category", COLLECTION: "Collection"}
DEFAULT_STATUS = "draft"


class _Loader:
    """Batches ``get`` calls of one scope made in the same tick into one ``get_many``."""

    def __init__(self, kv: KvStore, scope: ChannelScope) -> None:
        self.kv = kv
        self.scope = scope
        self.pending: dict[str, dict[str, list[asyncio.Future[Document | None]]]] = {}
        self.task: asyncio.Task[None] | None = None

    async def load(self, kind: str, name: str) -> Document | None:
        future: asyncio.Future[Document | None] = asyncio.get_running_loop().create_future()
        self.pending.setdefault(kind, {}).setdefault(name, []).append(future)
        if self.task is None:
            self.task = asyncio.ensure_future(self._dispatch())
        return await future

    async def _dispatch(self) -> None:
        await asyncio.sleep(0)  # let sibling resolvers register their names
        pending, self.pending, self.task = self.pending, {}, None
        for kind, waiting in pending.items():
            names = list(waiting)
            try:
                documents: list[Document | None] = []
                for start in range(0, len(names), MAX_PAGE_SIZE):
                    chunk = names[start : start + MAX_PAGE_SIZE]
                    documents.extend(await self.kv.get_many(self.scope, kind, chunk))
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                for futures in waiting.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for name, document in zip(names, documents, strict=True):
                for future in waiting[name]:
                    if not future.done():
                        future.set_result(document)


@dataclass
class CatalogView:
    """One resolved read of a repository's catalogue (one channel, one KV scope)."""

    kv: KvStore
    record: RepositoryRecord
    channel: Channel
    scope: ChannelScope
    _head: asyncio.Future[ChannelHead | None] | None = field(default=None, repr=False)
    _loader: _Loader | None = field(default=None, repr=False)
    _membership: CollectionMembership | None = field(default=None, repr=False)

    @property
    def repository(self) -> str:
        return self.record.repository_id

    async def head(self) -> ChannelHead | None:
        """The scope's head (read once per view)."""
        if self._head is None:
            self._head = asyncio.ensure_future(self.kv.head(self.scope))
        return await self._head

    async def load(self, kind: str, name: str) -> Document | None:
        if self._loader is None:
            self._loader = _Loader(self.kv, self.scope)
        return await self._loader.load(kind, name)

    def membership(self) -> CollectionMembership:
        """What products of this view answer ``collections`` with (read once per view)."""
        if self._membership is None:
            self._membership = CollectionMembership(self.kv, self.scope, self.head)
        return self._membership

    def resource(self, document: Document) -> CatalogResource:
        return CatalogResource(
            self.repository,
            KINDS.get(document.kind, document.kind),
            document.name,
            document.value(),
            document.version,
            self.membership() if document.kind == PRODUCT else None,
        )


def _exactly_one(kind: str, given: dict[str, Any]) -> tuple[str, Any]:
    chosen = [(key, value) for key, value in given.items() if value is not None]
    if len(chosen) != 1:
        names = ", ".join(given)
        raise InvalidArgument(
            f"{kind} needs exactly one of {names} (got {len(chosen)})",
            field=chosen[1][0] if len(chosen) > 1 else next(iter(given)),
        )
    return chosen[0]


def _status_of(value: dict[str, Any]) -> Any:
    spec = value.get("spec")
    return spec.get("status", DEFAULT_STATUS) if isinstance(spec, dict) else DEFAULT_STATUS


def _in_category(value: dict[str, Any], category: str) -> bool:
    spec = value.get("spec")
    categories = spec.get("categories") if isinstance(spec, dict) else None
    return isinstance(categories, list) and category in categories


class CatalogReads:
    def __init__(self, store: MetadataStore, kv: KvStore) -> None:
        self.store = store
        self.kv = kv

    async def open(
        self, principal: Principal | None, repository: str, channel: Channel
    ) -> CatalogView:
        record = await readable_repository(
            self.store, principal, repository, draft=channel is Channel.DRAFT
        )
        scope = await resolve_scope(self.kv, record, channel)
        return CatalogView(self.kv, record, channel, scope)

    # ------------------------------------------------------------------ one resource
    async def one(
        self,
        view: CatalogView,
        kind: str,
        *,
        id: str | None = None,
        name: str | None = None,
        handle: str | None = None,
    ) -> CatalogResource | None:
        """The resource named by exactly one of id / name / handle (handle: products only),
        or None when the catalogue has none."""
        given: dict[str, Any] = {"id": id, "name": name}
        if kind == PRODUCT:
            given["handle"] = handle
        key, value = _exactly_one(kind, given)
        if key == "handle":
            page = await self.kv.lookup(view.scope, kind, "handle", value, first=1)
            return view.resource(page.items[0]) if page.items else None
        if key == "id":
            rid = decode_resource_id(value, KINDS[kind])
            if rid.repository != view.repository:
                raise InvalidArgument(
                    f"id {value!r} is a {rid.kind} of repository {rid.repository!r}, not of"
                    f" {view.repository!r}",
                    field="id",
                )
            value = rid.name
        document = await view.load(kind, value)
        return view.resource(document) if document is not None else None

    # ------------------------------------------------------------------ lists
    async def products(
        self,
        view: CatalogView,
        *,
        first: int,
        after: str | None = None,
        category: str | None = None,
        collection: str | None = None,
        status: str | None = None,
    ) -> Connection[CatalogResource]:
        if collection is not None:
            listed = await self._listed_members(view, collection)
            if listed is not None or category is not None:
                return await self._collection_page(
                    view, collection, listed or [], category, status, first, after
                )
            if status is not None:
                index, value = "collection-status", f"{collection}|{status}"
            else:
                index, value = "collection", collection
        elif category is not None and status is not None:
            index, value = "category-status", f"{category}|{status}"
        elif category is not None:
            index, value = "category", category
        elif status is not None:
            index, value = "status", status
        else:
            page = await self.kv.list_documents(view.scope, PRODUCT, first=first, after=after)
            return _connection(view, page, after)
        page = await self.kv.lookup(view.scope, PRODUCT, index, value, first=first, after=after)
        return _connection(view, page, after)

    async def categories(
        self, view: CatalogView, *, first: int, after: str | None = None, parent: str | None = None
    ) -> Connection[CatalogResource]:
        if parent is None:
            page = await self.kv.list_documents(view.scope, CATEGORY, first=first, after=after)
        else:
            page = await self.kv.lookup(
                view.scope, CATEGORY, "parent", parent, first=first, after=after
            )
        return _connection(view, page, after)

    async def collections(
        self, view: CatalogView, *, first: int, after: str | None = None
    ) -> Connection[CatalogResource]:
        page = await self.kv.list_documents(view.scope, COLLECTION, first=first, after=after)
        return _connection(view, page, after)

    # ------------------------------------------------------------------ collections
    async def _listed_members(self, view: CatalogView, collection: str) -> list[str] | None:
        """The product names the collection document lists (None: no such list)."""
        document = await view.load(COLLECTION, collection)
        if document is None:
            return None
        spec = document.value().get("spec")
        products = spec.get("products") if isinstance(spec, dict) else None
        if not isinstance(products, list):
            return None
        return [p for p in products if isinstance(p, str)]

    async def _collection_page(
        self,
        view: CatalogView,
        collection: str,
        listed: list[str],
        category: str | None,
        status: str | None,
        first: int,
        after: str | None,
    ) -> Connection[CatalogResource]:
        after_name = decode_cursor(after)

        def keep(document: Document) -> bool:
            value = document.value()
            if status is not None and _status_of(value) != status:
                return False
            return category is None or _in_category(value, category)

        members: dict[str, Document] = {}
        index, value = (
            ("collection-status", f"{collection}|{status}")
            if status is not None
            else ("collection", collection)
        )
        async for document in self._all(view, index, value):
            if keep(document):
                members[document.name] = document
        missing = list(dict.fromkeys(n for n in listed if n not in members))
        for start in range(0, len(missing), MAX_PAGE_SIZE):
            chunk = missing[start : start + MAX_PAGE_SIZE]
            for found in await self.kv.get_many(view.scope, PRODUCT, chunk):
                if found is not None and keep(found):
                    members[found.name] = found
        names = sorted(members)
        rest = [n for n in names if after_name is None or n > after_name]
        page = [members[n] for n in rest[:first]]
        return Connection.of(
            [view.resource(d) for d in page],
            lambda r: encode_cursor(r.name),
            total_count=len(names),
            has_next_page=len(rest) > first,
            after=after,
        )

    async def _all(self, view: CatalogView, index: str, value: str) -> AsyncIterator[Document]:
        cursor: str | None = None
        while True:
            page = await self.kv.lookup(
                view.scope, PRODUCT, index, value, first=MAX_PAGE_SIZE, after=cursor
            )
            for document in page.items:
                yield document
            if not page.has_next_page or page.end_cursor is None:
                return
            cursor = page.end_cursor


def _connection(
    view: CatalogView, page: Page[Document], after: str | None
) -> Connection[CatalogResource]:
    resources: Iterable[CatalogResource] = [view.resource(d) for d in page.items]
    return Connection.of(
        list(resources),
        lambda r: encode_cursor(r.name),
        total_count=page.total_count,
        has_next_page=page.has_next_page,
        after=after,
    )
