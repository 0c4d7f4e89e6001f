"""The platform's part of every store schema, built once per process and shared.

Every store schema starts with the same modules — ``catalog`` of the built-in kinds,
``schemaStatus``, the catalogue mutations, releases and ``auditLog`` bound to the endpoint's
repository, the control plane's resource fields and the built-in kinds' typed mutations
(``upsertProduct``, ...) — and only then adds a repository's custom kinds (``groups``, their
typed ``mutations``, ``control``). That common part was most of a candidate's CPU (~9 of
~12 ms for a store with one custom kind), paid on every kind commit.

``platform(max_page_size)`` contributes it once to a ``SchemaBuilder`` and keeps that builder
as a *template*; each candidate (and the write path's name check, ``check``) starts from
``template.fork()``: the same type objects, its own type and field tables, so what one
repository's kinds add is never seen by another's schema. graphql-core types are immutable
once a schema has resolved their field thunks, and the template resolves all of them once,
by building and validating the built-ins-only schema, before any fork is handed out — so
forks built at the same time in different threads never resolve a shared thunk concurrently.

What differs per repository at run time is looked up per schema, not closed over: the
mutations' starting registry is the schema's own (``REGISTRY_EXTENSION`` in the schema's
``extensions``, read by ``catalog_mutations.schema_registry``). Because the built-in kinds'
typed mutations now come before the custom kinds, a custom kind can no longer take one of
their type names (``UpsertProductInput``, ...): it is served under another name, like any
platform type name it would take.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from graphql import validate_schema

from gitstore.domain.content import KindRegistry

from ..graphql.audit import AuditModule
from ..graphql.builder import SchemaBuilder, SchemaModule
from ..graphql.catalog_mutations import CatalogMutationsModule
from ..graphql.catalog_reads import CatalogReadsModule
from ..graphql.releases import ReleasesModule
from .bound import RepositoryBound
from .control import control_modules
from .groups import CustomKindsModule
from .mutations import StoreMutationsModule
from .status import SchemaStatusModule


@dataclass(frozen=True, slots=True)
class Platform:
    """The shared template and the module objects the per-repository modules build on."""

    template: SchemaBuilder  # never built itself: only forked
    catalog: CatalogMutationsModule  # its ``types`` (payloads, inputs) back the typed mutations

    def fork(self) -> SchemaBuilder:
        return self.template.fork()


_platforms: dict[int, Platform] = {}
_lock = threading.Lock()


def platform(max_page_size: int) -> Platform:
    """The platform part for schemas with ``max_page_size`` (made on first use; thread-safe)."""
    found = _platforms.get(max_page_size)
    if found is not None:
        return found
    with _lock:
        found = _platforms.get(max_page_size)
        if found is None:
            found = _platforms[max_page_size] = _make(max_page_size)
        return found


def _make(max_page_size: int) -> Platform:
    builtins = KindRegistry.builtin()
    catalog = CatalogMutationsModule(builtins, typed_kinds=())
    platform_control, _ = control_modules(builtins)
    typed = StoreMutationsModule(builtins, catalog, CustomKindsModule(builtins), builtin=True)
    modules: list[SchemaModule] = [
        CatalogReadsModule(builtins, repository_argument=False),
        SchemaStatusModule(),
        RepositoryBound(catalog),
        RepositoryBound(ReleasesModule()),
        RepositoryBound(AuditModule()),
        *platform_control,
        RepositoryBound(typed),  # upsertProduct, deleteCategory, ...: the built-in kinds'
    ]
    template = SchemaBuilder(max_page_size=max_page_size)
    for module in modules:
        template.module = module.name
        module.contribute(template)
    made = Platform(template, catalog)
    # resolve every shared thunk now, once, in this thread (see the module docstring)
    errors = validate_schema(made.fork().build())
    if errors:  # a bug of the platform's modules, not of any repository
        raise RuntimeError(
            "the platform part of store schemas is invalid: " + "; ".join(e.message for e in errors)
        )
    return made
