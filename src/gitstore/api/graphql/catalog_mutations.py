"""The catalogue mutations schema module (docs/mutations.md).

``applyManifests``, ``upsertProduct`` / ``upsertCategory`` / ``upsertCollection``,
``deleteProduct`` / ``deleteCategory`` / ``deleteCollection``, ``revertCommit``,
``migrateRepositoryLayout``, and the query
``resourceHistory``. Thin by design: resolvers translate the input into
``api.catalog.writes.inputs`` operations and call
``api.catalog.writes.writer.CatalogWriter``; all rules live there. Payloads return the
generated ``Product`` / ``Category`` / ``Collection`` types of the catalogue reads module,
which must come first in ``modules.py``.

Like ``payloads.add_mutation`` (same ``<Name>Input`` / ``<Name>Payload`` shape), except that
one refused write answers *every* problem (``userErrors`` with one entry per bad field, the
field being the full JSON path of the input, e.g. ``spec.price.amount``), and each call is
timed into ``gitstore_api_mutation_duration_seconds{mutation,outcome}``.

``history`` is a root field (``resourceHistory(repository, kind, name, first)``) rather than
``Catalog.history``: the builder has no way to add a field to another module's type.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.content import KindRegistry, ManifestFormat
from gitstore.domain.errors import GitStoreError, Unavailable

from ..catalog.access import readable_repository
from ..catalog.ids import encode_resource_id
from ..catalog.writes.access import maintainable
from ..catalog.writes.history import HistoryEntry
from ..catalog.writes.inputs import Remove, WriteOptions
from ..catalog.writes.kinds import definitions_in
from ..catalog.writes.layout import migrate_layout
from ..catalog.writes.metrics import WriteMetrics, write_metrics
from ..catalog.writes.plan import Change
from ..catalog.writes.problems import USER_ERROR_CODES, WriteRefused
from ..catalog.writes.writer import Caller, CatalogWriter, WriteResult, is_refusal
from ..changes.actions import source_moved
from ..context import context_of
from .builder import SchemaBuilder
from .catalog_mutation_types import MutationTypes
from .info import ResolveInfo
from .payloads import camel_case, user_error
from .relay import check_first

TYPED_KINDS = ("Product", "Category", "Collection")
REGISTRY_EXTENSION = "gitstore_registry"  # schema.extensions key: the kinds it was built with
Resolve = Callable[[ResolveInfo, dict[str, Any]], Awaitable[dict[str, Any]]]


class CatalogMutationsModule:
    name = "catalog-mutations"

    def __init__(
        self, registry: KindRegistry | None = None, *, typed_kinds: Sequence[str] = TYPED_KINDS
    ) -> None:
        """``typed_kinds``: the kinds given ``upsert<Kind>``/``delete<Kind>`` with a JSON
        ``spec`` here (store endpoints pass none: ``storeschema.mutations`` types them)."""
        self.registry = registry
        self.typed_kinds = tuple(typed_kinds)
        self.types: MutationTypes | None = None  # this build's shared types (for other modules)

    def contribute(self, builder: SchemaBuilder) -> None:
        registry = self.registry or KindRegistry.builtin()
        for code, text in USER_ERROR_CODES.items():
            builder.add_user_error_code(code, text)
        t = self.types = MutationTypes(builder)

        def writer(info: ResolveInfo) -> tuple[CatalogWriter, Caller]:
            return catalog_writer(info, schema_registry(info, registry))

        async def apply(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
            w, caller = writer(info)
            record = await w.writable(caller, data["repository"])  # access before input
            options = WriteOptions.from_input(data)
            items = data["manifests"]
            max_bytes = w.settings.content.max_manifest_bytes
            await w.use_head_kinds(record, options, definitions_in(items, max_bytes))
            puts = w.builder.documents(items)
            result = await w.write(caller, "applyManifests", data, puts, options, record=record)
            return _payload(result)

        _mutation(
            builder,
            "applyManifests",
            {
                "manifests": GraphQLInputField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(t.manifest_input))),
                    description="The manifests to create or replace, in one commit.",
                ),
                "branch": GraphQLInputField(
                    GraphQLString,
                    description="Branch to commit to (default: the repository's default"
                    " branch; a new branch starts at the default branch's head).",
                ),
                **t.write_options(expected=True),
            },
            t.payload_fields(),
            apply,
            "Create or replace one or many manifests (any kind) in one commit.",
        )
        for kind in self.typed_kinds:
            self._typed(builder, t, kind, writer)
        self._revert(builder, t, writer)
        self._migrate(builder)
        self._history(builder, t, registry)

    def _typed(
        self,
        builder: SchemaBuilder,
        t: MutationTypes,
        kind: str,
        writer: Callable[[ResolveInfo], tuple[CatalogWriter, Caller]],
    ) -> None:
        resource_type = builder.get_type(kind)
        assert isinstance(resource_type, GraphQLObjectType)
        field = kind[:1].lower() + kind[1:]

        async def upsert(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
            w, caller = writer(info)
            record = await w.writable(caller, data["repository"])  # access before input
            options = WriteOptions.from_input(data)
            await w.use_head_kinds(record, options)
            put = w.builder.typed(
                kind,
                data["name"],
                data["spec"],
                data.get("labels"),
                data.get("annotations"),
                ManifestFormat(data.get("format") or ManifestFormat.YAML),
            )
            result = await w.write(caller, f"upsert{kind}", data, [put], options, record=record)
            payload = _payload(result)
            payload[field] = None if result.dry_run else result.resource(kind)
            return payload

        _mutation(
            builder,
            f"upsert{kind}",
            {
                "name": GraphQLInputField(
                    GraphQLNonNull(GraphQLString), description="metadata.name"
                ),
                "spec": GraphQLInputField(
                    GraphQLNonNull(t.json), description=f"The whole spec of the {kind}."
                ),
                "labels": GraphQLInputField(t.json, description="metadata.labels"),
                "annotations": GraphQLInputField(t.json, description="metadata.annotations"),
                "format": GraphQLInputField(
                    t.format,
                    default_value=ManifestFormat.YAML,
                    description="File format of a new resource (an existing file keeps its own).",
                ),
                **t.write_options(expected=True),
            },
            {
                **t.payload_fields(),
                field: GraphQLField(
                    resource_type, description=f"The {kind} as written (null for a dry run)."
                ),
            },
            upsert,
            f"Create or replace one {kind} (validated against its schema before committing).",
        )

        delete_mutation(builder, t, kind, writer)

    def _revert(
        self,
        builder: SchemaBuilder,
        t: MutationTypes,
        writer: Callable[[ResolveInfo], tuple[CatalogWriter, Caller]],
    ) -> None:
        async def revert(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
            w, caller = writer(info)
            record = await w.writable(caller, data["repository"])  # access before input
            options = WriteOptions.from_input(data)
            result = await w.revert(caller, data, data["sha"], options, record=record)
            payload = _payload(result)
            payload["revertedCommit"] = result.reverted
            return payload

        _mutation(
            builder,
            "revertCommit",
            {
                "sha": GraphQLInputField(
                    GraphQLNonNull(GraphQLString), description="The commit to undo."
                ),
                **t.write_options(expected=False),
            },
            {
                **t.payload_fields(),
                "revertedCommit": GraphQLField(GraphQLString, description="Full SHA undone."),
            },
            revert,
            "Undo one earlier commit with a new commit (refused if a later commit changed"
            " the same files).",
        )

    def _migrate(self, builder: SchemaBuilder) -> None:
        async def migrate(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
            ctx = context_of(info)
            principal = ctx.require_principal()
            services = ctx.services
            record = await maintainable(
                services.store, principal, data["repository"], what="migrate the layout"
            )
            caller = Caller(principal, ctx.request_id)
            result = await migrate_layout(
                services.git(),
                record,
                author=caller.author,
                actor=principal.username,
                request_id=ctx.request_id,
                dry_run=bool(data.get("dryRun")),
            )
            return {
                "repository": result.repository,
                "layout": result.layout.value,
                "committed": result.committed,
                "commit": result.commit,
                "moved": result.moved,
            }

        _mutation(
            builder,
            "migrateRepositoryLayout",
            {
                "dryRun": GraphQLInputField(
                    GraphQLBoolean,
                    description="Only count the files that would move (layout: the current"
                    " one; nothing is committed).",
                )
            },
            {
                "repository": GraphQLField(GraphQLString),
                "layout": GraphQLField(
                    GraphQLString,
                    description="The layout after the call: fanout (with dryRun: the current).",
                ),
                "committed": GraphQLField(
                    GraphQLNonNull(GraphQLBoolean),
                    description="False when nothing had to move (already migrated).",
                ),
                "commit": GraphQLField(
                    GraphQLString, description="The migration commit, or the head as it was."
                ),
                "moved": GraphQLField(
                    GraphQLNonNull(GraphQLInt),
                    description="Files moved to the fan-out layout (with dryRun: to move).",
                ),
            },
            migrate,
            "Move every manifest of the repository's default branch to the fan-out layout"
            " (<plural>/<sha1(name)[:2]>/<name>.<ext>) in one commit and write the marker"
            " .gitstore/layout. Maintainers, owners and admins; idempotent.",
        )

    def _history(self, builder: SchemaBuilder, t: MutationTypes, registry: KindRegistry) -> None:
        async def resolve(
            _root: Any, info: ResolveInfo, repository: str, kind: str, name: str, first: int
        ) -> list[HistoryEntry]:
            check_first(first, max_page_size=builder.max_page_size)
            ctx = context_of(info)
            record = await readable_repository(
                ctx.services.store, ctx.actor(), repository, draft=True
            )
            services = ctx.services
            # the kind is looked up among the kinds of the default branch's head (custom
            # kinds included), not only the ones this schema was built with
            w = CatalogWriter(
                store=services.store,
                git=services.git(),
                kv=None,
                settings=services.settings,
                registry=schema_registry(info, registry),
                kinds=services.kinds(),
                hook_runner=services.hook_runner,
                hook_pool=services.hook_pool,
            )
            return await w.history(record, kind, name, first)

        builder.add_query_field(
            "resourceHistory",
            GraphQLField(
                GraphQLNonNull(GraphQLList(GraphQLNonNull(t.history_entry))),
                args={
                    "repository": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="<namespace>/<repo>"
                    ),
                    "kind": GraphQLArgument(
                        GraphQLNonNull(GraphQLString), description="Product, Category, ..."
                    ),
                    "name": GraphQLArgument(GraphQLNonNull(GraphQLString)),
                    "first": GraphQLArgument(GraphQLInt, default_value=20),
                },
                resolve=resolve,
                description="Commits of the default branch that touched a resource, newest"
                " first, with field-level diffs (read from Git; needs DRAFT read access).",
            ),
        )


def schema_registry(info: ResolveInfo, default: KindRegistry) -> KindRegistry:
    """The kind registry the schema serving ``info`` was built with, when it says so in its
    ``extensions`` (``REGISTRY_EXTENSION``: store schemas, whose platform part is shared by
    every repository's schema, ``storeschema.platform``); else ``default``."""
    found = (info.schema.extensions or {}).get(REGISTRY_EXTENSION)
    return found if isinstance(found, KindRegistry) else default


def catalog_writer(info: ResolveInfo, registry: KindRegistry) -> tuple[CatalogWriter, Caller]:
    """The writer of one mutation call (``registry``: the kinds it starts from; the write
    then follows its branch head's) and its caller (authentication required)."""
    ctx = context_of(info)
    principal = ctx.require_principal()
    services = ctx.services
    try:
        kv = services.kv()
    except Unavailable:
        kv = None
    return (
        CatalogWriter(
            store=services.store,
            git=services.git(),
            kv=kv,
            settings=services.settings,
            metrics=_metrics(info),
            registry=registry,
            kinds=services.kinds(),
            hook_runner=services.hook_runner,
            hook_pool=services.hook_pool,
            on_commit=services.store_schemas.committed,
            after_commit=lambda record, ref, actor: source_moved(
                services, record, ref.removeprefix("refs/heads/"), actor
            ),
        ),
        Caller(principal, ctx.request_id),
    )


def delete_mutation(
    builder: SchemaBuilder,
    t: MutationTypes,
    kind: str,
    writer: Callable[[ResolveInfo], tuple[CatalogWriter, Caller]],
    **inputs: GraphQLInputField,
) -> None:
    """The ``delete<kind>`` mutation (extra ``inputs`` after the write options)."""

    async def delete(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
        w, caller = writer(info)
        record = await w.writable(caller, data["repository"])  # access before input
        options = WriteOptions.from_input(data)
        result = await w.write(
            caller, f"delete{kind}", data, [Remove(kind, data["name"])], options, record=record
        )
        payload = _payload(result)
        payload["deletedId"] = encode_resource_id(kind, result.repository, data["name"])
        return payload

    _mutation(
        builder,
        f"delete{kind}",
        {
            "name": GraphQLInputField(GraphQLNonNull(GraphQLString), description="metadata.name"),
            **t.write_options(expected=True),
            **inputs,
        },
        {
            **t.payload_fields(),
            "deletedId": GraphQLField(GraphQLID, description=f"Global ID of the deleted {kind}."),
        },
        delete,
        f"Delete one {kind} (every file that holds it) in one commit.",
    )


def _metrics(info: ResolveInfo) -> WriteMetrics:
    return write_metrics(context_of(info).services.metrics.registry)


def _change(change: Change) -> dict[str, Any]:
    return {
        "path": change.path,
        "changeType": change.change_type,
        "kind": change.kind,
        "name": change.name,
        "diff": [c.to_dict() for c in change.diff],
    }


def _payload(result: WriteResult) -> dict[str, Any]:
    indexing = None
    if result.commit is not None:
        indexing = {
            "repository": result.repository,
            "commit": result.commit,
            "state": result.indexing_state or "PENDING",
        }
    return {
        "repository": result.repository,
        "branch": result.branch,
        "commit": result.commit,
        "committed": result.committed,
        "dryRun": result.dry_run,
        "replayed": result.replayed,
        "changes": [_change(c) for c in result.changes],
        "indexing": indexing,
    }


def _field_name(field: str | None) -> str | None:
    if field is None or "." in field or "[" in field:
        return field
    return camel_case(field)


def _mutation(
    builder: SchemaBuilder,
    name: str,
    input_fields: Mapping[str, GraphQLInputField],
    payload_fields: Mapping[str, GraphQLField],
    resolve: Resolve,
    description: str,
) -> None:
    type_base = name[:1].upper() + name[1:]
    input_type = builder.add_type(
        GraphQLInputObjectType(
            f"{type_base}Input",
            {
                "repository": GraphQLInputField(
                    GraphQLNonNull(GraphQLString), description="<namespace>/<repo>"
                ),
                **input_fields,
                "clientMutationId": GraphQLInputField(GraphQLString),
            },
        )
    )
    payload_type = builder.add_type(
        GraphQLObjectType(
            f"{type_base}Payload",
            {
                **payload_fields,
                "clientMutationId": GraphQLField(GraphQLString),
                "userErrors": GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(builder.user_error))),
                    description="Why nothing was committed (empty on success).",
                ),
            },
        )
    )

    async def resolver(_root: Any, info: ResolveInfo, input: dict[str, Any]) -> Any:
        started = time.perf_counter()
        outcome = "error"
        echo = {"clientMutationId": input.get("clientMutationId")}
        try:
            result = await resolve(info, input)
            outcome = "replayed" if result.get("replayed") else "ok"
            return {**result, **echo, "userErrors": []}
        except WriteRefused as refused:
            outcome = "user_error"
            return {**echo, "userErrors": [p.to_user_error() for p in refused.problems]}
        except GitStoreError as exc:
            if not is_refusal(exc) or exc.code == "UNAUTHENTICATED":
                raise
            outcome = "user_error"
            error = user_error(exc, builder.user_error_codes)
            error["field"] = _field_name(exc.field)
            return {**echo, "userErrors": [error]}
        finally:
            _metrics(info).mutation(name, time.perf_counter() - started, outcome)

    builder.add_mutation_field(
        name,
        GraphQLField(
            GraphQLNonNull(payload_type),
            args={"input": GraphQLArgument(GraphQLNonNull(input_type))},
            resolve=resolver,
            description=description,
        ),
    )


__all__ = ["CatalogMutationsModule", "catalog_writer"]
