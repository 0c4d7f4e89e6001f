"""The GraphQL types of the catalogue mutations module (``catalog_mutations.py``).

Made fresh for every schema build (modules must not cache types): ``ManifestFormat`` and
``ManifestInput`` (input), ``FieldChange`` / ``FieldChangeOp`` (a semantic diff entry),
``ResourceChange`` / ``ResourceChangeType``, ``IndexingHandle`` / ``IndexingState``,
``ResourceHistoryEntry`` / ``CommitAuthor``, plus the option fields every mutation input
shares and the fields every payload shares. Output types read plain dicts (payloads) or
``HistoryEntry`` objects (history).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.content import ManifestFormat

from .builder import SchemaBuilder
from .scalars import json_type


class MutationTypes:
    """The shared input and output types of this module, made fresh for one build."""

    def __init__(self, builder: SchemaBuilder) -> None:
        self.json = json_type(builder)
        self.format = builder.add_type(
            GraphQLEnumType(
                "ManifestFormat",
                {
                    "YAML": GraphQLEnumValue(ManifestFormat.YAML, description=".yaml"),
                    "JSON": GraphQLEnumValue(ManifestFormat.JSON, description=".json"),
                    "MARKDOWN": GraphQLEnumValue(
                        ManifestFormat.MARKDOWN,
                        description=".md: YAML frontmatter, the body is spec.description",
                    ),
                },
            )
        )
        self.manifest_input = builder.add_type(
            GraphQLInputObjectType(
                "ManifestInput",
                {
                    "format": GraphQLInputField(self.format, default_value=ManifestFormat.YAML),
                    "content": GraphQLInputField(
                        GraphQLString, description="The file's text, in `format`."
                    ),
                    "manifest": GraphQLInputField(
                        self.json, description="Or: the manifest as a JSON object."
                    ),
                },
                description="One manifest: `content` (YAML, JSON or Markdown text) or"
                " `manifest` (JSON). `format` is also the format of a new file.",
            )
        )
        op = builder.add_type(
            GraphQLEnumType(
                "FieldChangeOp",
                {n.upper(): GraphQLEnumValue(n) for n in ("added", "removed", "changed")},
            )
        )
        field_change = builder.add_type(
            GraphQLObjectType(
                "FieldChange",
                {
                    "path": GraphQLField(
                        GraphQLNonNull(GraphQLString),
                        description="JSON path, e.g. spec.price.amount",
                    ),
                    "op": GraphQLField(GraphQLNonNull(op)),
                    "old": GraphQLField(self.json),
                    "new": GraphQLField(self.json),
                },
                description="One field-level change (a semantic diff, not a text diff).",
            )
        )
        self.diff = GraphQLNonNull(GraphQLList(GraphQLNonNull(field_change)))
        self.change_type = builder.add_type(
            GraphQLEnumType(
                "ResourceChangeType",
                {n: GraphQLEnumValue(n) for n in ("ADDED", "MODIFIED", "DELETED")},
            )
        )
        change = builder.add_type(
            GraphQLObjectType(
                "ResourceChange",
                {
                    "path": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "changeType": GraphQLField(GraphQLNonNull(self.change_type)),
                    "kind": GraphQLField(GraphQLString),
                    "name": GraphQLField(GraphQLString),
                    "diff": GraphQLField(self.diff),
                },
                description="One file a write changes (or would change, in a dry run).",
            )
        )
        self.changes = GraphQLList(GraphQLNonNull(change))
        state = builder.add_type(
            GraphQLEnumType(
                "IndexingState",
                {
                    "PENDING": GraphQLEnumValue(
                        "PENDING", description="Storefront reads do not show it yet."
                    ),
                    "INDEXED": GraphQLEnumValue(
                        "INDEXED", description="The projection has reached the commit."
                    ),
                },
            )
        )
        self.indexing = builder.add_type(
            GraphQLObjectType(
                "IndexingHandle",
                {
                    "repository": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "commit": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "state": GraphQLField(GraphQLNonNull(state)),
                },
                description="Whether storefront reads see a write yet (see waitForIndex).",
            )
        )
        author = builder.add_type(
            GraphQLObjectType(
                "CommitAuthor",
                {
                    "name": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "email": GraphQLField(GraphQLNonNull(GraphQLString)),
                },
            )
        )

        def attr(name: str) -> Any:
            return lambda entry, _info: getattr(entry, name)

        self.history_entry = builder.add_type(
            GraphQLObjectType(
                "ResourceHistoryEntry",
                {
                    "commit": GraphQLField(GraphQLNonNull(GraphQLString), resolve=attr("commit")),
                    "author": GraphQLField(
                        GraphQLNonNull(author),
                        resolve=lambda e, _i: {"name": e.author_name, "email": e.author_email},
                    ),
                    "committedAt": GraphQLField(
                        GraphQLNonNull(builder.datetime), resolve=attr("committed_at")
                    ),
                    "message": GraphQLField(GraphQLNonNull(GraphQLString), resolve=attr("message")),
                    "actor": GraphQLField(GraphQLString, resolve=attr("actor")),
                    "requestId": GraphQLField(GraphQLString, resolve=attr("request_id")),
                    "idempotencyKey": GraphQLField(GraphQLString, resolve=attr("idempotency_key")),
                    "path": GraphQLField(GraphQLNonNull(GraphQLString), resolve=attr("path")),
                    "changeType": GraphQLField(
                        GraphQLNonNull(self.change_type), resolve=attr("change_type")
                    ),
                    "diff": GraphQLField(
                        self.diff, resolve=lambda e, _i: [c.to_dict() for c in e.diff]
                    ),
                },
                description="One commit that touched a resource.",
            )
        )

    def write_options(self, *, expected: bool) -> dict[str, GraphQLInputField]:
        fields = {
            "idempotencyKey": GraphQLInputField(
                GraphQLString,
                description="Retries with the same key and input return the first answer"
                " and commit nothing new; a different input is IDEMPOTENCY_KEY_REUSED.",
            ),
            "dryRun": GraphQLInputField(
                GraphQLBoolean,
                default_value=False,
                description="Validate and return the changes; commit nothing.",
            ),
            "waitForIndex": GraphQLInputField(
                GraphQLBoolean,
                default_value=False,
                description="Answer only once storefront reads see the commit (or after"
                " indexTimeout; then indexing.state is PENDING).",
            ),
            "indexTimeout": GraphQLInputField(
                GraphQLFloat, description="Seconds waitForIndex waits at most (default 10, max 60)."
            ),
            "message": GraphQLInputField(
                GraphQLString, description="Commit message (default: generated)."
            ),
        }
        if expected:
            fields["expectedVersion"] = GraphQLInputField(
                GraphQLString,
                description="The commit SHA at which the caller read the resource (its"
                " `version`); if the resource changed since, CONFLICT and nothing is committed.",
            )
        return fields

    def payload_fields(self) -> dict[str, GraphQLField]:
        return {
            "repository": GraphQLField(GraphQLString),
            "branch": GraphQLField(GraphQLString),
            "commit": GraphQLField(
                GraphQLString,
                description="The new commit; when nothing changed, the branch head that"
                " already holds the content (committed: false); null for a dry run.",
            ),
            "committed": GraphQLField(GraphQLBoolean, description="Whether a commit was made."),
            "dryRun": GraphQLField(GraphQLBoolean),
            "replayed": GraphQLField(
                GraphQLBoolean, description="The answer of an earlier request with this key."
            ),
            "changes": GraphQLField(self.changes),
            "indexing": GraphQLField(self.indexing),
        }
