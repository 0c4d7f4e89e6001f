"""The watch subscriptions: ``watchResources`` and one ``watch<Kinds>`` per built-in kind.

``watchResources(repository:, kind:, resourceVersion:, labelSelector:)`` streams
``ResourceWatchEvent { type resourceVersion object }`` from the process's watch cache
(``api/watch/cache.py``); ``watchProducts`` / ``watchCategories`` / ``watchCollections`` are the
same with the kind fixed. Served over SSE (``api/sse``); see docs/watch.md.

Authorization is that of catalogue reads (``catalog.access.readable_repository``): the store
holds the default branch, which is what storefronts see in an ``ON_COMMIT`` repository (a
LIVE read: anyone for a public repository) and a draft in an ``ON_RELEASE_TAG`` one (a DRAFT
read: only those who may read the repository's private content).

A watch that ends abnormally (cut off as a slow consumer, server shutdown) ends with one
event whose field is an error with a code (``RESOURCE_EXHAUSTED``, ``UNAVAILABLE``) and a
message naming the resourceVersion to watch again from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.backends.metadata.base import PublishMode
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.selectors import parse_selector

from ..catalog.access import readable_repository
from ..context import context_of
from ..watch.cache import WatchEvent
from .builder import SchemaBuilder
from .info import ResolveInfo
from .scalars import json_type

BUILTIN_WATCHES = {
    "watchProducts": "Product",
    "watchCategories": "Category",
    "watchCollections": "Collection",
}
MAX_VERSION_DIGITS = 19


def parse_resource_version(value: str | None) -> int | None:
    """A resourceVersion argument: a decimal string of a non-negative integer, or None."""
    if value is None:
        return None
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        raise InvalidArgument(
            f'resourceVersion must be a decimal integer string such as "42", got {value!r}',
            field="resourceVersion",
        )
    if len(value) > MAX_VERSION_DIGITS:
        raise InvalidArgument(
            f"resourceVersion {value[:30]!r} is out of range", field="resourceVersion"
        )
    return int(value)


async def _subscribe(
    _root: Any,
    info: ResolveInfo,
    repository: str,
    kind: str | None = None,
    resourceVersion: str | None = None,
    labelSelector: str | None = None,
) -> AsyncIterator[WatchEvent]:
    ctx = context_of(info)
    version = parse_resource_version(resourceVersion)
    selector = parse_selector(labelSelector)
    if kind is not None and not kind.strip():
        raise InvalidArgument(
            "kind must not be empty (leave it out to watch every kind)", field="kind"
        )
    store, actor = ctx.services.store, ctx.actor()
    record = await readable_repository(store, actor, repository)
    if record.publish_mode is PublishMode.ON_RELEASE_TAG:
        record = await readable_repository(store, actor, repository, draft=True)
    cache = ctx.services.watch_cache()
    return cache.watch(record.repository_id, kind=kind, selector=selector, resource_version=version)


def _fixed_kind(kind: str) -> Any:
    async def subscribe(
        root: Any,
        info: ResolveInfo,
        repository: str,
        resourceVersion: str | None = None,
        labelSelector: str | None = None,
    ) -> AsyncIterator[WatchEvent]:
        return await _subscribe(root, info, repository, kind, resourceVersion, labelSelector)

    return subscribe


def _event(event: WatchEvent, _info: ResolveInfo, **_args: Any) -> WatchEvent:
    if event.error is not None:
        raise event.error
    return event


class WatchModule:
    name = "watch"

    def contribute(self, builder: SchemaBuilder) -> None:
        json = json_type(builder)
        event_type = builder.add_type(
            GraphQLEnumType(
                "WatchEventType",
                {
                    "ADDED": GraphQLEnumValue("ADDED", description="An object appeared."),
                    "MODIFIED": GraphQLEnumValue("MODIFIED", description="An object changed."),
                    "DELETED": GraphQLEnumValue(
                        "DELETED", description="An object is gone (object: its last state)."
                    ),
                    "BOOKMARK": GraphQLEnumValue(
                        "BOOKMARK",
                        description="No object: the watch has seen everything up to"
                        " resourceVersion (resume from it).",
                    ),
                    "EXPIRED": GraphQLEnumValue(
                        "EXPIRED",
                        description="The resourceVersion asked for is older than the changes"
                        " kept: list again, then watch from the list's version. The last event.",
                    ),
                },
            )
        )
        event = builder.add_type(
            GraphQLObjectType(
                "ResourceWatchEvent",
                {
                    "type": GraphQLField(GraphQLNonNull(event_type), resolve=lambda e, _i: e.type),
                    "resourceVersion": GraphQLField(
                        GraphQLNonNull(GraphQLString),
                        resolve=lambda e, _i: str(e.resource_version),
                        description="The change's resourceVersion (decimal string).",
                    ),
                    "object": GraphQLField(
                        json,
                        resolve=lambda e, _i: e.object,
                        description="The whole object after the change (DELETED: its last"
                        " state); null for BOOKMARK and EXPIRED.",
                    ),
                },
                description="One event of a watch (Kubernetes watch semantics).",
            )
        )
        common = {
            "repository": GraphQLArgument(
                GraphQLNonNull(GraphQLString), description="`<namespace>/<repo>`."
            ),
            "resourceVersion": GraphQLArgument(
                GraphQLString,
                description="Resume after this version; leave out to get ADDED for every"
                " current object first.",
            ),
            "labelSelector": GraphQLArgument(
                GraphQLString, description="Kubernetes label selector, e.g. `tier=gold,!hidden`."
            ),
        }
        builder.add_subscription_field(
            "watchResources",
            GraphQLField(
                event,
                {**common, "kind": GraphQLArgument(GraphQLString, description="e.g. `Product`.")},
                resolve=_event,
                subscribe=_subscribe,
                description="Watch a repository's resources (of one kind, or all).",
            ),
        )
        for field, kind in BUILTIN_WATCHES.items():
            builder.add_subscription_field(
                field,
                GraphQLField(
                    event,
                    dict(common),
                    resolve=_event,
                    subscribe=_fixed_kind(kind),
                    description=f"Watch a repository's {kind} resources.",
                ),
            )
