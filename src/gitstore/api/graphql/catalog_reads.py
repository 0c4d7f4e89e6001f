"""The storefront schema module: ``catalog(repository:, channel:)`` and ``commitStatus``.

Thin by design: the output types ``Product``, ``Category``, ``Collection`` (and their nested
types) are generated from the kind registry's JSON Schemas by ``api.catalog.types`` each
time the schema is built; resolvers call ``api.catalog.reads`` (KV only, never Git). ``catalog``
checks access and resolves the channel once; every field below it reads that one KV scope.
Other modules (the catalogue mutations) use the generated types by name, so this module comes
before them in ``modules.py``.

Every resolver below ``catalog`` and ``commitStatus`` is timed into
``gitstore_api_storefront_read_duration_seconds{field}``.

On a store endpoint (``/<namespace>/<repo>/graphql``, ``api.storeschema``) the module is built
with ``repository_argument=False``: ``catalog`` and ``commitStatus`` then read the endpoint's
repository from the request context instead of an argument.

Later modules may add fields to ``Catalog`` with :func:`add_catalog_field` (before the schema
is built); their resolvers receive the request's ``api.catalog.reads.CatalogView`` (the
repository record, the resolved KV scope) as the source object.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    get_named_type,
)

from gitstore.domain.content import KindRegistry
from gitstore.domain.projection import INVALID, PENDING, VALID, CommitStatus, materialised_version

from ..catalog.access import Channel, readable_repository
from ..catalog.reads import CATEGORY, COLLECTION, PRODUCT, CatalogReads, CatalogView
from ..catalog.resources import CatalogResource
from ..catalog.status import read_commit_status
from ..catalog.types.generate import types_for_kind
from ..context import context_of
from .builder import SchemaBuilder
from .fields import ExtraFields
from .info import ResolveInfo
from .relay import check_first

Resolver = Callable[..., Awaitable[Any]]

_EXTRA = ExtraFields(
    "Catalog",
    frozenset(
        {
            "repository",
            "channel",
            "resolvedChannel",
            "version",
            "updatedAt",
            "product",
            "products",
            "category",
            "categories",
            "collection",
            "collections",
        }
    ),
)


def add_catalog_field(builder: SchemaBuilder, name: str, field: GraphQLField) -> None:
    """Add ``Catalog.<name>`` from another module (before the schema is built)."""
    _EXTRA.add(builder, name, field)


def _timed(field: str, resolver: Resolver) -> Resolver:
    async def timed(source: Any, info: ResolveInfo, **args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await resolver(source, info, **args)
        finally:
            histogram = context_of(info).services.metrics.storefront_read_duration
            histogram.labels(field).observe(time.perf_counter() - started)

    return timed


def _reads(info: ResolveInfo) -> CatalogReads:
    services = context_of(info).services
    return CatalogReads(services.store, services.kv())


class CatalogReadsModule:
    name = "catalog-reads"

    def __init__(
        self, registry: KindRegistry | None = None, *, repository_argument: bool = True
    ) -> None:
        self.registry = registry
        # False on a store endpoint: the repository is the endpoint's (``RequestContext``)
        self.repository_argument = repository_argument

    def contribute(self, builder: SchemaBuilder) -> None:
        registry = self.registry or KindRegistry.builtin()
        max_page = builder.max_page_size
        channel = builder.add_type(
            GraphQLEnumType(
                "Channel",
                {
                    "LIVE": GraphQLEnumValue(
                        Channel.LIVE, description="What storefronts see (published)."
                    ),
                    "DRAFT": GraphQLEnumValue(
                        Channel.DRAFT,
                        description="The default branch head; needs read access.",
                    ),
                },
            )
        )
        product = types_for_kind(
            registry.get("Product"), builder, {"collections": _product_collections()}
        )
        category = types_for_kind(registry.get("Category"), builder)
        collection = types_for_kind(registry.get("Collection"), builder)
        status_field = product.fields.get("status")
        status_type = get_named_type(status_field.type) if status_field else None
        status_input = status_type if isinstance(status_type, GraphQLEnumType) else GraphQLString
        product_filter = builder.add_type(
            GraphQLInputObjectType(
                "ProductFilter",
                {
                    "category": GraphQLInputField(
                        GraphQLString, description="Products in this category (its name)."
                    ),
                    "collection": GraphQLInputField(
                        GraphQLString,
                        description="Products in this collection (its name): listed in its "
                        "spec.products, naming it in their spec.collections, or matching its "
                        "spec.rules.",
                    ),
                    "status": GraphQLInputField(status_input, description="Products in status."),
                },
                description="Filters combine with AND.",
            )
        )
        category_filter = builder.add_type(
            GraphQLInputObjectType(
                "CategoryFilter",
                {"parent": GraphQLInputField(GraphQLString, description="Children of this.")},
            )
        )

        def pager(kind: str) -> Resolver:
            async def resolve(
                view: CatalogView,
                info: ResolveInfo,
                first: int,
                after: str | None = None,
                filter: dict[str, Any] | None = None,
            ) -> Any:
                size = check_first(first, max_page_size=max_page)
                reads, options = _reads(info), filter or {}
                if kind == PRODUCT:
                    return await reads.products(view, first=size, after=after, **options)
                if kind == CATEGORY:
                    return await reads.categories(view, first=size, after=after, **options)
                return await reads.collections(view, first=size, after=after)

            return resolve

        def one(kind: str) -> Resolver:
            async def resolve(view: CatalogView, info: ResolveInfo, **args: Any) -> Any:
                return await _reads(info).one(view, kind, **args)

            return resolve

        by_id_or_name = {
            "id": GraphQLArgument(GraphQLID, description="Its global ID."),
            "name": GraphQLArgument(GraphQLString, description="Its metadata.name."),
        }
        products_connection = builder.connection(product)
        categories_connection = builder.connection(category)
        collections_connection = builder.connection(collection)
        own: dict[str, GraphQLField] = {
            "repository": GraphQLField(
                GraphQLNonNull(GraphQLString), resolve=lambda v, _i: v.repository
            ),
            "channel": GraphQLField(
                GraphQLNonNull(channel),
                resolve=lambda v, _i: v.channel,
                description="The channel asked for.",
            ),
            "resolvedChannel": GraphQLField(
                GraphQLNonNull(GraphQLString),
                resolve=lambda v, _i: v.scope.channel,
                description="The KV channel read: draft (DRAFT, or LIVE of an ON_COMMIT "
                "repository); live-a or live-b (LIVE once a release is published: the release "
                "buffer live points at, which changes when a publication switches buffers — use "
                "version to identify the release); live (LIVE with no release published: "
                "empty).",
            ),
            "version": GraphQLField(
                GraphQLString,
                resolve=_timed("version", _version),
                description="The commit SHA the channel is materialised at "
                "(null: nothing projected yet).",
            ),
            "updatedAt": GraphQLField(
                builder.datetime,
                resolve=_timed("updatedAt", _updated_at),
                description="When the channel's head last moved.",
            ),
            "product": GraphQLField(
                product,
                args={
                    **by_id_or_name,
                    "handle": GraphQLArgument(GraphQLString, description="spec.handle"),
                },
                resolve=_timed("product", one(PRODUCT)),
                description="One product by exactly one of id, name, handle.",
            ),
            "products": GraphQLField(
                GraphQLNonNull(products_connection),
                args=builder.connection_args(
                    filter=GraphQLArgument(product_filter),
                ),
                resolve=_timed("products", pager(PRODUCT)),
                description="Products ordered by name.",
            ),
            "category": GraphQLField(
                category,
                args=by_id_or_name,
                resolve=_timed("category", one(CATEGORY)),
                description="One category by exactly one of id, name.",
            ),
            "categories": GraphQLField(
                GraphQLNonNull(categories_connection),
                args=builder.connection_args(filter=GraphQLArgument(category_filter)),
                resolve=_timed("categories", pager(CATEGORY)),
                description="Categories ordered by name.",
            ),
            "collection": GraphQLField(
                collection,
                args=by_id_or_name,
                resolve=_timed("collection", one(COLLECTION)),
                description="One collection by exactly one of id, name.",
            ),
            "collections": GraphQLField(
                GraphQLNonNull(collections_connection),
                args=builder.connection_args(),
                resolve=_timed("collections", pager(COLLECTION)),
                description="Collections ordered by name.",
            ),
        }
        assert set(own) == _EXTRA.own
        catalog = builder.add_type(
            GraphQLObjectType(
                "Catalog",
                lambda: {**own, **_EXTRA.of(builder)},
                description="A repository's catalogue in one channel, read from the KV "
                "projection (never from Git).",
            )
        )
        repository_args = (
            {
                "repository": GraphQLArgument(
                    GraphQLNonNull(GraphQLString), description="<namespace>/<repo>"
                )
            }
            if self.repository_argument
            else {}
        )
        builder.add_query_field(
            "catalog",
            GraphQLField(
                GraphQLNonNull(catalog),
                args={
                    **repository_args,
                    "channel": GraphQLArgument(channel, default_value=Channel.LIVE),
                },
                resolve=_timed("catalog", _catalog),
                description="A repository's catalogue (storefront reads). LIVE of a public "
                "repository is open to anyone; DRAFT and private repositories need read access.",
            ),
        )
        builder.add_query_field(
            "commitStatus",
            GraphQLField(
                GraphQLNonNull(_commit_status_type(builder)),
                args={
                    **repository_args,
                    "sha": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="A full commit id."
                    ),
                },
                resolve=_timed("commitStatus", _commit_status),
                description="Whether the worker found the commit's manifests valid.",
            ),
        )


def _product_collections() -> GraphQLField:
    async def resolve(resource: CatalogResource, _info: ResolveInfo) -> list[str]:
        return await resource.collections()

    return GraphQLField(
        GraphQLNonNull(GraphQLList(GraphQLNonNull(GraphQLString))),
        resolve=resolve,
        description="Names of every collection the product is in, ordered by name — the "
        "membership products(filter: {collection}) uses: the ones its spec.collections "
        "names, the ones listing it in their spec.products, and the rule-based ones whose "
        "spec.rules it satisfies. In a mutation's payload: its spec.collections only (rules "
        "apply when the commit is projected).",
    )


def endpoint_repository(info: ResolveInfo, repository: str | None) -> str:
    """The ``repository`` argument, or on a store endpoint the endpoint's repository."""
    if repository is not None:
        return repository
    own = context_of(info).repository
    if own is None:  # the global schema makes the argument required: not reached
        raise TypeError("no repository: neither an argument nor a store endpoint")
    return own


async def _catalog(
    _root: Any, info: ResolveInfo, repository: str | None = None, channel: Channel | None = None
) -> CatalogView:
    ctx = context_of(info)
    target = endpoint_repository(info, repository)
    return await _reads(info).open(ctx.actor(), target, channel or Channel.LIVE)


async def _version(view: CatalogView, _info: ResolveInfo) -> str | None:
    head = await view.head()
    return materialised_version(head.version if head else None)


async def _updated_at(view: CatalogView, _info: ResolveInfo) -> datetime | None:
    head = await view.head()
    return datetime.fromtimestamp(head.updated_at, UTC) if head else None


async def _commit_status(
    _root: Any, info: ResolveInfo, sha: str, repository: str | None = None
) -> Any:
    ctx = context_of(info)
    target = endpoint_repository(info, repository)
    record = await readable_repository(ctx.services.store, ctx.actor(), target)
    return await read_commit_status(ctx.services.kv(), record.repository_id, sha)


def _checked_at(status: CommitStatus, _info: ResolveInfo) -> datetime | None:
    if not status.checked_at:
        return None
    try:
        parsed = datetime.fromisoformat(status.checked_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _commit_status_type(builder: SchemaBuilder) -> GraphQLObjectType:
    state = builder.add_type(
        GraphQLEnumType(
            "CommitState",
            {
                PENDING: GraphQLEnumValue(PENDING, description="Not checked by the worker yet."),
                VALID: GraphQLEnumValue(VALID, description="Every manifest it changed is valid."),
                INVALID: GraphQLEnumValue(INVALID, description="Some manifest is invalid."),
            },
        )
    )

    def key(name: str) -> Callable[[dict[str, Any], ResolveInfo], Any]:
        return lambda error, _info: error.get(name)

    error = builder.add_type(
        GraphQLObjectType(
            "CommitStatusError",
            {
                "path": GraphQLField(GraphQLString, resolve=key("path"), description="The file."),
                "field": GraphQLField(
                    GraphQLString, resolve=key("field"), description="JSON path of the value."
                ),
                "rule": GraphQLField(GraphQLString, resolve=key("rule")),
                "message": GraphQLField(GraphQLNonNull(GraphQLString), resolve=key("message")),
                "line": GraphQLField(GraphQLInt, resolve=key("line")),
                "column": GraphQLField(GraphQLInt, resolve=key("column")),
            },
            description="One problem the worker found in a manifest of the commit.",
        )
    )
    return builder.add_type(
        GraphQLObjectType(
            "CommitStatus",
            {
                "state": GraphQLField(GraphQLNonNull(state), resolve=lambda s, _i: s.state),
                "commit": GraphQLField(
                    GraphQLNonNull(GraphQLString), resolve=lambda s, _i: s.commit
                ),
                "checkedAt": GraphQLField(builder.datetime, resolve=_checked_at),
                "errors": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(error))),
                    resolve=lambda s, _i: s.errors,
                ),
            },
            description="The worker's validation verdict on one commit (PENDING until checked).",
        )
    )
