"""Typed mutations per kind on store endpoints: ``upsert<Kind>`` and ``delete<Kind>``.

For every kind of the repository — the built-ins (``Product``, ``Category``, ``Collection``,
``KindDefinition``) and its custom kinds alike — ``StoreMutationsModule`` adds

* ``upsert<Kind>(input: {name, labels, annotations, format, <spec fields>..., expectedVersion,
  idempotencyKey, branch, dryRun, waitForIndex, indexTimeout, message, clientMutationId})``:
  the spec fields are typed from the kind's hub JSON Schema (``inputs``); a kind whose spec
  cannot be typed as input takes ``spec: JSON!`` instead (the input type's description says
  why). The payload carries the resource as written in the kind's output type
  (``brand: Brand``), besides the fields every catalogue payload has;
* ``delete<Kind>(input: {name, expectedVersion, idempotencyKey, branch, dryRun, ...})``.

Thin, like the global ones (``graphql.catalog_mutations``): the resolvers make the same
``CatalogWriter`` (``catalog_writer``) and call ``writable`` → ``use_head_kinds`` →
``builder.typed`` → ``write``, so access, validation against the head's kinds, idempotency,
conflicts, audit, metrics and ``userErrors`` are the global mutations' — only the input's
shape differs, and a problem found in ``spec.title`` is reported on the input field
``title``. The module is served through ``bound.RepositoryBound``: the inputs have no
``repository`` field; the endpoint's repository is used.

Names: a kind whose mutation or type names are taken (by the platform or another kind) gets
no typed mutations here — ``applyManifests`` still writes it — and is listed in
``skipped`` with the reason.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInputField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from gitstore.domain.content import KindDefinition, KindRegistry, ManifestFormat

from ..catalog.writes.inputs import WriteOptions
from ..catalog.writes.problems import Problem, WriteRefused
from ..graphql.builder import SchemaBuilder, SchemaBuildError
from ..graphql.catalog_mutation_types import MutationTypes
from ..graphql.catalog_mutations import (
    CatalogMutationsModule,
    _mutation,
    _payload,
    catalog_writer,
    delete_mutation,
    schema_registry,
)
from ..graphql.info import ResolveInfo
from .groups import CustomKindsModule
from .inputs import SpecInputs, input_problem, spec_inputs

# fields of an upsert input that are not spec properties (``repository`` is bound away)
UPSERT_FIELDS = frozenset(
    {
        "repository",
        "name",
        "labels",
        "annotations",
        "format",
        "spec",
        "clientMutationId",
        "idempotencyKey",
        "dryRun",
        "waitForIndex",
        "indexTimeout",
        "message",
        "expectedVersion",
        "branch",
    }
)
PAYLOAD_FIELDS = frozenset(
    {"repository", "branch", "commit", "committed", "dryRun", "replayed", "changes", "indexing"}
)


class StoreMutationsModule:
    """``catalog``: the (bound) ``CatalogMutationsModule`` of the same build, which must come
    first (its shared types); ``custom``: the build's ``CustomKindsModule`` (output types);
    ``builtin``: only the built-in kinds (True: the platform's shared part, ``platform``),
    only the custom ones (False: each candidate) or all of them (None). The resolvers write
    with the registry of the schema serving the request (``schema_registry``), so built-in
    mutations shared by many schemas start from each repository's own kinds."""

    name = "store-mutations"

    def __init__(
        self,
        registry: KindRegistry,
        catalog: CatalogMutationsModule,
        custom: CustomKindsModule,
        *,
        builtin: bool | None = None,
    ) -> None:
        self.registry = registry
        self.catalog = catalog
        self.custom = custom
        self.builtin = builtin
        self.skipped: dict[str, str] = {}  # kind → why it has no typed mutations (last build)
        self.untyped_inputs: dict[str, str] = {}  # kind → why its spec input is JSON

    def contribute(self, builder: SchemaBuilder) -> None:
        t = self.catalog.types
        assert t is not None, "CatalogMutationsModule contributes first"
        for definition in self.registry:
            if self.builtin is not None and definition.builtin != self.builtin:
                continue
            kind = definition.kind
            names = [
                f"{verb}{kind}{part}"
                for verb in ("Upsert", "Delete")
                for part in ("Input", "Payload")
            ]
            taken = [n for n in names if builder.has_type(n)]
            if taken:
                self.skipped[kind] = f"type name {', '.join(taken)} is taken"
                continue
            try:
                self._upsert(builder, t, definition)
                self._delete(builder, t, definition)
            except SchemaBuildError as exc:  # a root field of that name exists already
                self.skipped[kind] = str(exc)

    # ------------------------------------------------------------------ upsert
    def _upsert(self, builder: SchemaBuilder, t: MutationTypes, definition: KindDefinition) -> None:
        kind, registry = definition.kind, self.registry
        problem = input_problem(definition, set(UPSERT_FIELDS))
        typed: SpecInputs | None = None
        if problem is None:
            typed = spec_inputs(definition, builder, set(UPSERT_FIELDS))
            spec_fields: dict[str, GraphQLInputField] = dict(typed.fields)
        else:
            self.untyped_inputs[kind] = problem
            spec_fields = {
                "spec": GraphQLInputField(
                    GraphQLNonNull(t.json),
                    description=f"The whole spec of the {kind} (its schema could not be"
                    f" typed as input: {problem}).",
                )
            }
        resource_type = self._output_type(builder, kind)
        payload_field = _payload_field(kind)

        async def upsert(info: ResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
            w, caller = catalog_writer(info, schema_registry(info, registry))
            record = await w.writable(caller, data["repository"])  # access before input
            options = WriteOptions.from_input(data)
            try:
                await w.use_head_kinds(record, options)
                spec = typed.spec_of(data) if typed is not None else data["spec"]
                put = w.builder.typed(
                    kind,
                    data["name"],
                    spec,
                    data.get("labels"),
                    data.get("annotations"),
                    ManifestFormat(data.get("format") or ManifestFormat.YAML),
                )
                result = await w.write(caller, f"upsert{kind}", data, [put], options, record=record)
            except WriteRefused as refused:
                if typed is None:
                    raise
                raise WriteRefused([_on_input(p, typed) for p in refused.problems]) from None
            payload = _payload(result)
            if resource_type is not None:
                payload[payload_field] = None if result.dry_run else result.resource(kind)
            return payload

        payload_fields = dict(t.payload_fields())
        if resource_type is not None:
            payload_fields[payload_field] = GraphQLField(
                resource_type, description=f"The {kind} as written (null for a dry run)."
            )
        _mutation(
            builder,
            f"upsert{kind}",
            {
                "name": GraphQLInputField(
                    GraphQLNonNull(GraphQLString), description="metadata.name"
                ),
                "labels": GraphQLInputField(t.json, description="metadata.labels"),
                "annotations": GraphQLInputField(t.json, description="metadata.annotations"),
                "format": GraphQLInputField(
                    t.format,
                    default_value=ManifestFormat.YAML,
                    description="File format of a new resource (an existing file keeps its own).",
                ),
                **spec_fields,
                **t.write_options(expected=True),
                "branch": GraphQLInputField(
                    GraphQLString,
                    description="Branch to commit to (default: the repository's default"
                    " branch; a new branch starts at the default branch's head).",
                ),
            },
            payload_fields,
            upsert,
            f"Create or replace one {kind} ({definition.hub_api_version}), validated against"
            " the kinds of the branch head before committing.",
        )

    # ------------------------------------------------------------------ delete
    def _delete(self, builder: SchemaBuilder, t: MutationTypes, definition: KindDefinition) -> None:
        registry = self.registry
        delete_mutation(
            builder,
            t,
            definition.kind,
            lambda info: catalog_writer(info, schema_registry(info, registry)),
            branch=GraphQLInputField(
                GraphQLString, description="Branch to commit to (default: the default one)."
            ),
        )

    def _output_type(self, builder: SchemaBuilder, kind: str) -> GraphQLObjectType | None:
        found = self.custom.types.get(kind)
        if found is not None:
            return found
        if not self.registry.get(kind).builtin or not builder.has_type(kind):
            return None
        existing = builder.get_type(kind)
        return existing if isinstance(existing, GraphQLObjectType) else None


def _payload_field(kind: str) -> str:
    name = kind[:1].lower() + kind[1:]
    return "resource" if name in PAYLOAD_FIELDS or name == "deletedId" else name


def _on_input(problem: Problem, typed: SpecInputs) -> Problem:
    """``spec.title.x`` (a manifest path) → ``title.x`` (the flat input field)."""
    field = problem.field
    if field is None or not field.startswith("spec."):
        return problem
    rest = field[len("spec.") :]
    head, dot, tail = rest.partition(".")
    prop, bracket, index = head.partition("[")
    name = typed.input_field(prop) + (bracket + index if bracket else "")
    return Problem(name + dot + tail, problem.message, problem.code)


__all__ = ["StoreMutationsModule"]
