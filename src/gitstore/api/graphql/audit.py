"""The ref audit schema module: ``auditLog(repository:, first, after)``.

Every ref update is an audit entry with action ``ref.update``, target ``<ns>/<repo>@<ref>``
and details ``{transport, old, new, pushId, operation, idempotencyKey}`` (``api.refaudit``):
pushes (post-receive, Smart HTTP and SSH), API-led commits (``applyManifests``, upserts,
deletes, ``revertCommit``: transport ``api``) and release tags made by ``createRelease``.
Releases and publications are listed too (actions ``release.create``, ``release.publish``,
``release.replay``, ... with target ``<ns>/<repo>@<tag>``). ``auditLog`` lists a
repository's entries (every action whose target is ``<ns>/<repo>@…``) newest first, as a
Relay connection of ``RefUpdateAuditEntry {at actor action ref old new transport pushId
operation idempotencyKey}``.

Who may read it: whoever may read the repository's DRAFT channel (``catalog.access``
``readable_repository(draft=True)``: the namespace's people and admins; a token needs
``read``). Others get the same errors as a draft read: NOT_FOUND for a private repository,
401/PERMISSION_DENIED for a public one.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.backends.metadata.base import AuditEntry, Page

from ..catalog.access import readable_repository
from ..context import context_of
from ..namespaces import paging
from .builder import SchemaBuilder
from .info import ResolveInfo
from .relay import Connection, check_first


def _detail(*names: str) -> Any:
    """The first of ``names`` present in the entry's details (writers spell push_id both
    ways: ``push_id`` in the contract, ``pushId`` in post-receive)."""

    def resolve(entry: AuditEntry, _info: ResolveInfo) -> str:
        return next((str(entry.details[n]) for n in names if n in entry.details), "")

    return resolve


class AuditModule:
    name = "audit"

    def contribute(self, builder: SchemaBuilder) -> None:
        nn_string = GraphQLNonNull(GraphQLString)
        entry = builder.add_type(
            GraphQLObjectType(
                "RefUpdateAuditEntry",
                {
                    "at": GraphQLField(GraphQLNonNull(builder.datetime)),
                    "actor": GraphQLField(nn_string, description="Who pushed."),
                    "action": GraphQLField(nn_string, description="ref.update"),
                    "ref": GraphQLField(
                        nn_string,
                        resolve=lambda e, _i: e.target.partition("@")[2],
                        description="Full ref name, e.g. refs/heads/main.",
                    ),
                    "old": GraphQLField(
                        nn_string, resolve=_detail("old"), description="40 hex; zeros = created."
                    ),
                    "new": GraphQLField(
                        nn_string, resolve=_detail("new"), description="40 hex; zeros = deleted."
                    ),
                    "transport": GraphQLField(
                        nn_string, resolve=_detail("transport"), description="http, ssh or api."
                    ),
                    "pushId": GraphQLField(
                        nn_string,
                        resolve=_detail("push_id", "pushId"),
                        description="The push or API request (correlation id of its events).",
                    ),
                    "operation": GraphQLField(
                        nn_string,
                        resolve=_detail("operation"),
                        description="push, the mutation (applyManifests, revertCommit,"
                        " createRelease, ...) or the release action.",
                    ),
                    "idempotencyKey": GraphQLField(
                        nn_string,
                        resolve=_detail("idempotencyKey"),
                        description="The mutation's idempotency key, if it had one.",
                    ),
                },
                description="One ref update (push, API commit, release tag) or release action.",
            )
        )
        builder.add_query_field(
            "auditLog",
            GraphQLField(
                GraphQLNonNull(builder.connection(entry)),
                args=builder.connection_args(
                    repository=GraphQLArgument(nn_string, description="namespace/name")
                ),
                resolve=_audit_log,
                description="Ref updates (pushes, API commits, release tags), releases and"
                " publications of a repository, newest first (readers of its draft channel).",
            ),
        )


async def _audit_log(
    _root: Any, info: ResolveInfo, repository: str, first: int, after: str | None = None
) -> Connection[AuditEntry]:
    ctx = context_of(info)
    services = ctx.services
    size = check_first(first, max_page_size=services.settings.api.max_page_size)
    record = await readable_repository(services.store, ctx.actor(), repository, draft=True)
    prefix = f"{record.repository_id}@"

    async def fetch(count: int, store_after: str | None) -> Page[AuditEntry]:
        return await services.store.list_audit(first=count, after=store_after, target_prefix=prefix)

    return await paging.connection(fetch, first=size, after=after)
