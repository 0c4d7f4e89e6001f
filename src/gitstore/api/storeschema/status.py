"""``schemaStatus``: which schema a store endpoint serves, and why a newer one is not served.

A query field of every store schema (no arguments: the endpoint's repository) and of the
global ``/graphql`` (``schemaStatus(repository:)``, needs read access). It answers
from ``StoreSchemas.status`` — the fingerprint of the kinds the served schema was built from,
the commit it was built at, when it was published, when the head was last checked, the
kinds that are served as JSON because they could not be typed, the name collisions of the
kinds' GraphQL types (``problems``: kind, version, JSON pointer), and the last failure (a
candidate that did not build or validate, or a head that could not be read) with its errors.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from ..catalog.access import readable_repository
from ..context import context_of
from ..graphql.builder import SchemaBuilder
from ..graphql.catalog_reads import endpoint_repository
from ..graphql.info import ResolveInfo


def _key(name: str) -> Any:
    return lambda source, _info: getattr(source, name)


class SchemaStatusModule:
    """``repository_argument=True`` (the global ``/graphql``): ``schemaStatus(repository:)``;
    False (a store endpoint): the endpoint's repository."""

    name = "schema-status"

    def __init__(self, *, repository_argument: bool = False) -> None:
        self.repository_argument = repository_argument

    def contribute(self, builder: SchemaBuilder) -> None:
        text = GraphQLNonNull(GraphQLString)
        texts = GraphQLNonNull(GraphQLList(text))
        failure = builder.add_type(
            GraphQLObjectType(
                "SchemaFailure",
                {
                    "at": GraphQLField(GraphQLNonNull(builder.datetime), resolve=_key("at")),
                    "commit": GraphQLField(
                        GraphQLString,
                        resolve=_key("commit"),
                        description="The head whose kinds were tried (null: not read).",
                    ),
                    "fingerprint": GraphQLField(GraphQLString, resolve=_key("fingerprint")),
                    "errors": GraphQLField(texts, resolve=_key("errors")),
                },
                description="A schema candidate that was not published (the last known-good "
                "schema stayed in force).",
            )
        )
        problem = builder.add_type(
            GraphQLObjectType(
                "SchemaProblem",
                {
                    "kind": GraphQLField(text, resolve=_key("kind")),
                    "version": GraphQLField(
                        text, resolve=_key("version"), description="The hub version typed."
                    ),
                    "pointer": GraphQLField(
                        text,
                        resolve=_key("pointer"),
                        description="JSON pointer into that version's schema, e.g. #/$defs/price.",
                    ),
                    "message": GraphQLField(text, resolve=_key("message")),
                },
                description="A GraphQL name collision in a kind's types: served under a "
                "numeric suffix until the definition is fixed.",
            )
        )
        status = builder.add_type(
            GraphQLObjectType(
                "SchemaStatus",
                {
                    "repository": GraphQLField(text, resolve=_key("repository")),
                    "fingerprint": GraphQLField(
                        text,
                        resolve=_key("fingerprint"),
                        description="Of the kinds the served schema was built from "
                        "(repositories with the same kinds share one schema).",
                    ),
                    "commit": GraphQLField(
                        GraphQLString,
                        resolve=_key("commit"),
                        description="The default-branch commit the served schema's kinds "
                        "were read at (null: an empty repository, or the head could not be "
                        "read and the built-in schema is served).",
                    ),
                    "kinds": GraphQLField(
                        texts, resolve=_key("kinds"), description="Custom kinds served."
                    ),
                    "untyped": GraphQLField(
                        texts,
                        resolve=_key("untyped"),
                        description="Custom kinds served as JSON, with the reason; also"
                        " those without typed mutations ('<Kind> (no typed mutations): ...')"
                        " or whose upsert takes the spec as JSON ('<Kind> (upsert takes"
                        " spec: JSON): ...').",
                    ),
                    "publishedAt": GraphQLField(
                        GraphQLNonNull(builder.datetime), resolve=_key("published_at")
                    ),
                    "checkedAt": GraphQLField(
                        GraphQLNonNull(builder.datetime),
                        resolve=_key("checked_at"),
                        description="When the head's kinds were last compared.",
                    ),
                    "lastFailure": GraphQLField(failure, resolve=_key("last_failure")),
                    "problems": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(problem))),
                        resolve=_key("problems"),
                        description="Name collisions in the served kinds' GraphQL types "
                        "(per definition: kind, version, JSON pointer).",
                    ),
                },
                description="The schema this store endpoint serves.",
            )
        )

        async def resolve(_root: Any, info: ResolveInfo, repository: str | None = None) -> Any:
            ctx = context_of(info)
            target = endpoint_repository(info, repository)
            record = await readable_repository(ctx.services.store, ctx.actor(), target)
            return await ctx.services.store_schemas.status(record)

        args = (
            {
                "repository": GraphQLArgument(
                    GraphQLNonNull(GraphQLString), description="<namespace>/<repo>"
                )
            }
            if self.repository_argument
            else {}
        )
        builder.add_query_field(
            "schemaStatus",
            GraphQLField(
                GraphQLNonNull(status),
                args=args,
                resolve=resolve,
                description="Which schema the store endpoint of the repository "
                "(/<namespace>/<repo>/graphql) serves, and its last failed rebuild.",
            ),
        )
