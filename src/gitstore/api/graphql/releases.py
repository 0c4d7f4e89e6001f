"""The releases schema module: releases, publications, the live release and webhooks.

Root fields take ``repository: "<namespace>/<repo>"`` like the storefront fields (the
``Repository`` type is closed to other modules):

* queries ``releases(repository, first, after)`` (newest first), ``release(repository, tag)``,
  ``liveRelease(repository)``, ``publications(repository, tag, first, after)`` (newest
  first), ``webhooks(repository)`` with ``Webhook.deliveries(first, after)``;
* mutations ``createRelease``, ``publishRelease``, ``replayRelease``, ``registerWebhook``
  (the payload's ``secret`` is shown this once), ``updateWebhook`` (pause/resume,
  description), ``rotateWebhookSecret`` (the new secret, shown once), ``deleteWebhook``.

Resolvers are thin: use cases live in ``gitstore.api.releases`` and ``gitstore.api.webhooks``;
who may do what is ``releases.access`` (reads: read access; createRelease: write;
publish/replay/webhooks: maintainer or owner). ``Release.status`` reads the repository's live
publication once per request (``ctx.cache``). Webhook IDs are global IDs
(``gid://GitStore/Webhook/<uuid>``); a delivery's ``id`` is the raw UUID the receiver sees in
``X-GitStore-Delivery``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.backends.metadata.base import RepositoryRecord
from gitstore.backends.metadata.base_git import (
    DeliveryState,
    Publication,
    PublicationKind,
    PublicationState,
    Webhook,
)

from ..context import context_of
from ..releases import access, actions, reads
from ..releases.reads import ReleaseState, ReleaseStatus, ReleaseView
from ..webhooks import actions as webhooks
from .builder import SchemaBuilder
from .fields import attr
from .info import ResolveInfo
from .payloads import add_mutation
from .relay import Connection, check_first, decode_global_id, encode_global_id
from .scalars import json_type

WEBHOOK = "Webhook"


def _enum(name: str, values: Any, description: str) -> GraphQLEnumType:
    return GraphQLEnumType(
        name, {v.value: GraphQLEnumValue(v) for v in values}, description=description
    )


class ReleasesModule:
    name = "releases"

    def contribute(self, builder: SchemaBuilder) -> None:
        types = _Types(builder)
        repo_arg = GraphQLArgument(GraphQLNonNull(GraphQLString), description="namespace/repo")
        builder.add_query_field(
            "releases",
            GraphQLField(
                GraphQLNonNull(builder.connection(types.release)),
                args=builder.connection_args(repository=repo_arg),
                resolve=_releases,
                description="Release tags of a repository, newest first (read access).",
            ),
        )
        builder.add_query_field(
            "release",
            GraphQLField(
                types.release,
                args={
                    "repository": repo_arg,
                    "tag": GraphQLArgument(GraphQLNonNull(GraphQLString)),
                },
                resolve=_release,
                description="One release by tag (null if none).",
            ),
        )
        builder.add_query_field(
            "liveRelease",
            GraphQLField(
                types.release,
                args={"repository": repo_arg},
                resolve=_live_release,
                description="The release the live channel shows (null: none published yet).",
            ),
        )
        builder.add_query_field(
            "publications",
            GraphQLField(
                GraphQLNonNull(builder.connection(types.publication)),
                args=builder.connection_args(
                    repository=repo_arg,
                    tag=GraphQLArgument(GraphQLString, description="Only this release's."),
                ),
                resolve=_publications,
                description="Requests to make a release live, newest first (read access).",
            ),
        )
        builder.add_query_field(
            "webhooks",
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(types.webhook))),
                args={"repository": repo_arg},
                resolve=_webhooks,
                description="Webhooks of a repository, oldest first (maintainers).",
            ),
        )
        _add_mutations(builder, types)


class _Types:
    def __init__(self, builder: SchemaBuilder) -> None:
        nn_string = GraphQLNonNull(GraphQLString)
        when = GraphQLNonNull(builder.datetime)
        status = builder.add_type(
            _enum("ReleaseStatus", ReleaseStatus, "Where a release stands with storefronts.")
        )
        kind = builder.add_type(
            _enum("PublicationKind", PublicationKind, "PUBLISH (incl. rollback) or REPLAY.")
        )
        state = builder.add_type(
            _enum("PublicationState", PublicationState, "The outcome of a publication.")
        )
        delivery_state = builder.add_type(
            _enum("WebhookDeliveryState", DeliveryState, "Where a webhook delivery stands.")
        )
        self.release = builder.add_type(
            GraphQLObjectType(
                "Release",
                {
                    "repository": GraphQLField(nn_string, description="namespace/repo"),
                    "tag": GraphQLField(nn_string, resolve=lambda v, _i: v.release.tag),
                    "commit": GraphQLField(nn_string, resolve=lambda v, _i: v.release.commit_sha),
                    "createdAt": GraphQLField(when, resolve=lambda v, _i: v.release.created_at),
                    "createdBy": GraphQLField(
                        nn_string, resolve=lambda v, _i: v.release.created_by
                    ),
                    "source": GraphQLField(
                        nn_string,
                        resolve=lambda v, _i: v.release.source,
                        description="How the tag arrived: http, ssh or api.",
                    ),
                    "message": GraphQLField(nn_string, resolve=lambda v, _i: v.release.message),
                    "status": GraphQLField(
                        GraphQLNonNull(status), resolve=_status, description="See ReleaseStatus."
                    ),
                    "publishedAt": GraphQLField(
                        builder.datetime,
                        resolve=_published_at,
                        description="When it last went live (null: never).",
                    ),
                    "publishedBy": GraphQLField(
                        GraphQLString,
                        resolve=_published_by,
                        description="Who requested it the last time it went live.",
                    ),
                },
                description="A release tag (matching the repository's release patterns).",
            )
        )
        self.publication = builder.add_type(
            GraphQLObjectType(
                "Publication",
                {
                    "sequence": GraphQLField(
                        GraphQLNonNull(GraphQLInt), description="1, 2, 3 ... per repository."
                    ),
                    "tag": GraphQLField(nn_string),
                    "commit": GraphQLField(nn_string, resolve=attr("commit_sha")),
                    "kind": GraphQLField(GraphQLNonNull(kind)),
                    "state": GraphQLField(GraphQLNonNull(state)),
                    "requestedAt": GraphQLField(when, resolve=attr("requested_at")),
                    "requestedBy": GraphQLField(nn_string, resolve=attr("requested_by")),
                    "completedAt": GraphQLField(builder.datetime, resolve=attr("completed_at")),
                    "changed": GraphQLField(
                        GraphQLNonNull(GraphQLList(nn_string)),
                        resolve=lambda p, _i: list(p.changed),
                        description="Resource ids (<kind>/<name>) whose live document changed.",
                    ),
                    "error": GraphQLField(nn_string),
                },
                description="One request to make a release live (publish, rollback, replay).",
            )
        )
        delivery = builder.add_type(
            GraphQLObjectType(
                "WebhookDelivery",
                {
                    "id": GraphQLField(
                        GraphQLNonNull(GraphQLID), description="As in X-GitStore-Delivery."
                    ),
                    "publicationSequence": GraphQLField(
                        GraphQLNonNull(GraphQLInt), resolve=attr("publication_sequence")
                    ),
                    "state": GraphQLField(GraphQLNonNull(delivery_state)),
                    "attempts": GraphQLField(GraphQLNonNull(GraphQLInt)),
                    "lastStatusCode": GraphQLField(GraphQLInt, resolve=attr("last_status_code")),
                    "lastError": GraphQLField(nn_string, resolve=attr("last_error")),
                    "createdAt": GraphQLField(when, resolve=attr("created_at")),
                    "nextAttemptAt": GraphQLField(
                        builder.datetime, resolve=attr("next_attempt_at")
                    ),
                    "completedAt": GraphQLField(builder.datetime, resolve=attr("completed_at")),
                    "payload": GraphQLField(
                        GraphQLNonNull(json_type(builder)), description="The JSON sent."
                    ),
                },
                description="One webhook POST and its attempts.",
            )
        )
        self.webhook = builder.add_type(
            GraphQLObjectType(
                WEBHOOK,
                {
                    "id": builder.global_id_field(WEBHOOK),
                    "url": GraphQLField(nn_string),
                    "description": GraphQLField(nn_string),
                    "active": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                    "createdAt": GraphQLField(when, resolve=attr("created_at")),
                    "createdBy": GraphQLField(nn_string, resolve=attr("created_by")),
                    "deliveries": GraphQLField(
                        GraphQLNonNull(builder.connection(delivery)),
                        args=builder.connection_args(),
                        resolve=_deliveries,
                        description="Newest first.",
                    ),
                },
                description="A URL that gets a signed POST per published release.",
            )
        )


def _add_mutations(builder: SchemaBuilder, types: _Types) -> None:
    nn_string = GraphQLNonNull(GraphQLString)
    repository = GraphQLInputField(nn_string, description="namespace/repo")
    target = {"repository": repository, "tag": GraphQLInputField(nn_string)}
    publication = {"publication": GraphQLField(types.publication)}
    add_mutation(
        builder,
        "createRelease",
        input_fields={
            **target,
            "revision": GraphQLInputField(
                GraphQLString, default_value="", description="Default: the default branch."
            ),
            "message": GraphQLInputField(GraphQLString, default_value=""),
        },
        payload_fields={
            "release": GraphQLField(types.release),
            **publication,
        },
        resolve=_create,
        description="Tag a revision as a release (writers); ON_RELEASE_TAG publishes it.",
    )
    add_mutation(
        builder,
        "publishRelease",
        input_fields=target,
        payload_fields=publication,
        resolve=_publish,
        description="Make live show this release: roll forward or back (maintainers).",
    )
    add_mutation(
        builder,
        "replayRelease",
        input_fields=target,
        payload_fields=publication,
        resolve=_replay,
        description="Re-project this release into live from scratch (maintainers).",
    )
    add_mutation(
        builder,
        "registerWebhook",
        input_fields={
            "repository": repository,
            "url": GraphQLInputField(nn_string, description="http(s), no credentials."),
            "description": GraphQLInputField(GraphQLString, default_value=""),
        },
        payload_fields={
            "webhook": GraphQLField(types.webhook),
            "secret": GraphQLField(
                GraphQLString, description="The HMAC-SHA256 signing key; shown only now."
            ),
        },
        resolve=_register,
        description="Register a URL for release.published deliveries (maintainers).",
    )
    add_mutation(
        builder,
        "deleteWebhook",
        input_fields={"id": GraphQLInputField(GraphQLNonNull(GraphQLID))},
        payload_fields={"deletedWebhookId": GraphQLField(GraphQLID)},
        resolve=_delete,
        description="Delete a webhook and its deliveries (maintainers).",
    )
    webhook_id = {"id": GraphQLInputField(GraphQLNonNull(GraphQLID))}
    add_mutation(
        builder,
        "updateWebhook",
        input_fields={
            **webhook_id,
            "active": GraphQLInputField(
                GraphQLBoolean, description="false pauses (nothing is sent), true resumes."
            ),
            "description": GraphQLInputField(GraphQLString),
        },
        payload_fields={"webhook": GraphQLField(types.webhook)},
        resolve=_update,
        description="Pause/resume or re-describe a webhook; omitted fields stay (maintainers).",
    )
    add_mutation(
        builder,
        "rotateWebhookSecret",
        input_fields=webhook_id,
        payload_fields={
            "webhook": GraphQLField(types.webhook),
            "secret": GraphQLField(
                GraphQLString, description="The new HMAC-SHA256 signing key; shown only now."
            ),
        },
        resolve=_rotate,
        description="Replace a webhook's signing secret; later deliveries use it (maintainers).",
    )


# ---------------------------------------------------------------------- query resolvers
def _page_size(info: ResolveInfo, first: int) -> int:
    return check_first(first, max_page_size=context_of(info).services.settings.api.max_page_size)


async def _readable(info: ResolveInfo, repository: str) -> RepositoryRecord:
    ctx = context_of(info)
    return await access.readable(ctx.services.store, ctx.actor(), repository)


async def _releases(
    _root: Any, info: ResolveInfo, repository: str, first: int, after: str | None = None
) -> Connection[ReleaseView]:
    size = _page_size(info, first)
    record = await _readable(info, repository)
    return await reads.list_releases(
        context_of(info).services.store, record, first=size, after=after
    )


async def _release(_root: Any, info: ResolveInfo, repository: str, tag: str) -> ReleaseView | None:
    record = await _readable(info, repository)
    return await reads.get_release(context_of(info).services.store, record, tag)


async def _live_release(_root: Any, info: ResolveInfo, repository: str) -> ReleaseView | None:
    record = await _readable(info, repository)
    return await reads.live_release(context_of(info).services.store, record)


async def _publications(
    _root: Any,
    info: ResolveInfo,
    repository: str,
    first: int,
    after: str | None = None,
    tag: str | None = None,
) -> Connection[Publication]:
    size = _page_size(info, first)
    record = await _readable(info, repository)
    store = context_of(info).services.store
    return await reads.list_publications(store, record, first=size, after=after, tag=tag)


async def _webhooks(_root: Any, info: ResolveInfo, repository: str) -> list[Webhook]:
    ctx = context_of(info)
    _record, found = await webhooks.list_webhooks(
        ctx.services.store, ctx.require_principal(), repository
    )
    return found


async def _deliveries(
    webhook: Webhook, info: ResolveInfo, first: int, after: str | None = None
) -> Any:
    size = _page_size(info, first)
    return await webhooks.list_deliveries(
        context_of(info).services.store, webhook, first=size, after=after
    )


async def _state(view: ReleaseView, info: ResolveInfo) -> ReleaseState:
    ctx = context_of(info)
    store = ctx.services.store
    live_key = ("live-publication", view.record.id)
    if live_key not in ctx.cache:
        ctx.cache[live_key] = await store.live_publication(view.record.id)
    key = ("release-state", view.record.id, view.release.tag)
    if key not in ctx.cache:
        ctx.cache[key] = await reads.release_state(store, view, ctx.cache[live_key])
    state = ctx.cache[key]
    assert isinstance(state, ReleaseState)
    return state


async def _status(view: ReleaseView, info: ResolveInfo) -> ReleaseStatus:
    return (await _state(view, info)).status


async def _published_at(view: ReleaseView, info: ResolveInfo) -> Any:
    return (await _state(view, info)).published_at


async def _published_by(view: ReleaseView, info: ResolveInfo) -> str | None:
    return (await _state(view, info)).published_by


# ---------------------------------------------------------------------- mutations
async def _create(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    outcome = await actions.create_release(
        ctx.services,
        ctx.require_principal(),
        data["repository"],
        data["tag"],
        data.get("revision") or "",
        data.get("message") or "",
        request_id=ctx.request_id,
    )
    record = await ctx.services.store.get_repository(outcome.release.repository_uuid)
    assert record is not None
    return {
        "release": ReleaseView(record, outcome.release),
        "publication": outcome.publication,
    }


async def _publish(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    return await _republish(info, data, actions.publish_release)


async def _replay(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    return await _republish(info, data, actions.replay_release)


async def _republish(
    info: ResolveInfo, data: dict[str, Any], action: Callable[..., Awaitable[Publication]]
) -> dict[str, Any]:
    """``publishRelease`` / ``replayRelease``: the same input and payload, one action each."""
    ctx = context_of(info)
    publication = await action(
        ctx.services,
        ctx.require_principal(),
        data["repository"],
        data["tag"],
        request_id=ctx.request_id,
    )
    return {"publication": publication}


async def _register(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    registered = await webhooks.register_webhook(
        ctx.services.store,
        ctx.services.settings.webhook,
        ctx.require_principal(),
        data["repository"],
        data["url"],
        data.get("description") or "",
    )
    return {"webhook": registered.webhook, "secret": registered.secret}


async def _delete(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    raw = decode_global_id(data["id"], WEBHOOK).id
    deleted = await webhooks.delete_webhook(ctx.services.store, ctx.require_principal(), raw)
    return {"deletedWebhookId": encode_global_id(WEBHOOK, deleted.id)}


async def _update(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    raw = decode_global_id(data["id"], WEBHOOK).id
    updated = await webhooks.update_webhook(
        ctx.services.store,
        ctx.require_principal(),
        raw,
        active=data.get("active"),
        description=data.get("description"),
    )
    return {"webhook": updated}


async def _rotate(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    ctx = context_of(info)
    raw = decode_global_id(data["id"], WEBHOOK).id
    rotated = await webhooks.rotate_secret(ctx.services.store, ctx.require_principal(), raw)
    return {"webhook": rotated.webhook, "secret": rotated.secret}
