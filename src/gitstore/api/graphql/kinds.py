"""``kinds(repository:)``: the kinds a repository's default branch defines, with their schemas.

Built-in kinds (Product, Category, Collection) and the repository's custom ``KindDefinition``s,
as the kind registry of the default branch head has them (``services.kinds()``, cached by
``kinds/`` tree): names, group, description, the hub (storage) version and every version's
JSON Schema. This is how a client (an agent, the MCP server) learns what a manifest of a kind
must look like before writing one. Read from Git, so it needs DRAFT read access (like
``resourceHistory``); an empty repository answers the built-in kinds.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.content import KindDefinition, KindVersion
from gitstore.domain.content.kindset import builtin_registry
from gitstore.domain.errors import NotFound

from ..catalog.access import readable_repository
from ..context import context_of
from .builder import SchemaBuilder
from .info import ResolveInfo
from .scalars import json_type


def _str(value: str) -> GraphQLField:
    return GraphQLField(GraphQLNonNull(GraphQLString), description=value)


class KindsModule:
    name = "kinds"

    def contribute(self, builder: SchemaBuilder) -> None:
        json = json_type(builder)
        version = GraphQLObjectType(
            "KindVersionInfo",
            lambda: {
                "name": _str("e.g. v1"),
                "apiVersion": _str("<group>/<name>: what a manifest's apiVersion says"),
                "served": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                "storage": GraphQLField(
                    GraphQLNonNull(GraphQLBoolean), description="The hub (storage) version."
                ),
                "deprecated": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                "deprecationWarning": GraphQLField(GraphQLString),
                "schema": GraphQLField(
                    GraphQLNonNull(json), description="JSON Schema of spec in this version."
                ),
                "statusSchema": GraphQLField(
                    json, description="JSON Schema of status (null: any object)."
                ),
            },
            description="One version of a kind.",
        )
        kind = GraphQLObjectType(
            "KindInfo",
            lambda: {
                "kind": _str("e.g. Product"),
                "plural": _str("e.g. products (also the directory of its files)"),
                "singular": _str("e.g. product"),
                "group": _str("e.g. gitstore.dev"),
                "description": _str("What the kind is for."),
                "builtin": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
                "source": GraphQLField(
                    GraphQLString, description="The KindDefinition file (null: built in)."
                ),
                "hubVersion": _str("The storage version's apiVersion (<group>/<version>)."),
                "conversion": _str("None, or Wasm (a WASI hook converts between versions)."),
                "versions": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(version)))),
            },
            description="A kind of a repository: names and the JSON Schema of each version.",
        )
        builder.add_type(kind)

        async def resolve(
            _root: Any, info: ResolveInfo, repository: str, kind: str | None = None
        ) -> list[dict[str, Any]]:
            ctx = context_of(info)
            record = await readable_repository(
                ctx.services.store, ctx.actor(), repository, draft=True
            )
            try:
                head = await ctx.services.git().resolve_revision(
                    record.repository_id, f"refs/heads/{record.default_branch}"
                )
                commit = head.commit_sha or None
            except NotFound:
                commit = None
            if commit is None:
                registry = builtin_registry()
            else:
                registry = (await ctx.services.kinds().at(record.repository_id, commit)).registry
            found = [_kind(d) for d in registry]
            if kind is not None:
                found = [k for k in found if k["kind"].lower() == kind.lower()]
            return sorted(found, key=lambda k: (not k["builtin"], k["kind"]))

        builder.add_query_field(
            "kinds",
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(kind))),
                args={
                    "repository": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="<namespace>/<repo>"
                    ),
                    "kind": GraphQLArgument(GraphQLString, description="Only this kind."),
                },
                resolve=resolve,
                description="Kinds of a repository's default branch (built-in first) with the"
                " JSON Schema of each version (read from Git; needs DRAFT read access).",
            ),
        )


def _kind(d: KindDefinition) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "plural": d.plural,
        "singular": d.names.singular,
        "group": d.group,
        "description": d.description,
        "builtin": d.builtin,
        "source": d.source or None,
        "hubVersion": d.hub_api_version,
        "conversion": d.conversion.strategy,
        "versions": [_version(d, v) for v in d.versions],
    }


def _version(d: KindDefinition, v: KindVersion) -> dict[str, Any]:
    return {
        "name": v.name,
        "apiVersion": f"{d.group}/{v.name}",
        "served": v.served,
        "storage": v.storage,
        "deprecated": v.deprecated,
        "deprecationWarning": v.deprecation_warning or None,
        "schema": _plain(v.schema),
        "statusSchema": None if v.status_schema is None else _plain(v.status_schema),
    }


def _plain(value: Any) -> Any:
    """Mappings and sequences of a (possibly frozen) schema as JSON-ready dicts and lists."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
