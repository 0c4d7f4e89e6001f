"""The kinds a mutation is judged with: the head's, plus the request's own definitions.

A write is planned on a branch head ``H`` (each round of ``writes``: the head may move
between rounds). Its registry is the registry of ``H`` (``git.kinds.KindsLoader``: built-ins
plus ``kinds/`` at ``H``, cached by tree id) with the request's ``KindDefinition`` puts
replacing or adding definitions and its removals of ``KindDefinition``s taking them out —
so ``applyManifests`` may define ``Brand`` and create brands in one commit.

Input is validated twice, cheaply: once when the request arrives (``definitions_in`` finds
the request's definitions before the other manifests are checked, against the current head),
and again in a round whose head has different kinds (``revalidate``). A request that puts or
removes a ``KindDefinition`` is admitted only if the rules of ``domain.kindchange`` (wired
by ``api.kinds``) find nothing: no conflicting definitions, no resource left invalid or
orphaned in the tree the commit would make (its files at ``H`` with the request's own puts
and removals applied), and Wasm conversion hooks that round-trip. Refusals are
``WriteRefused`` (``userErrors``), pointed at the definition in the request when it is there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestError,
    ManifestFormat,
    candidate_paths,
    parse_manifest,
    path_for,
    validate_manifest,
)
from gitstore.domain.content.kinds import KIND_DEFINITION_KIND
from gitstore.domain.content.kindset import Kinds, registry_for
from gitstore.domain.conversion import HookRunner
from gitstore.domain.kindchange import hub_problems
from gitstore.git.kinds import KindsLoader, file_at, stored_files

from ...kinds import hub_converter, kind_change_problems
from .inputs import Operation, Put, Remove
from .problems import Problem, WriteRefused, problems_from_content


def definitions_in(items: Sequence[Mapping[str, Any]], max_bytes: int) -> list[Manifest]:
    """The ``KindDefinition``s among raw ``applyManifests`` inputs (bad items are left for
    the full validation to report)."""
    found: list[Manifest] = []
    for item in items:
        try:
            content, manifest = item.get("content"), item.get("manifest")
            if content is not None:
                fmt = ManifestFormat(item.get("format") or ManifestFormat.YAML)
                raw = str(content).encode("utf-8", "surrogatepass")
                parsed = parse_manifest(raw, fmt=fmt, max_bytes=max_bytes)
            elif isinstance(manifest, Mapping):
                parsed = Manifest.from_object(manifest)
            else:
                continue
        except (ManifestError, ValueError, TypeError):
            continue
        if parsed.kind == KIND_DEFINITION_KIND:
            found.append(parsed)
    return found


def touches_kinds(operations: Iterable[Operation]) -> bool:
    return any(op.identity.kind == KIND_DEFINITION_KIND for op in operations)


class WriteKinds:
    """Registries of a write's rounds (one per repository write)."""

    def __init__(
        self,
        loader: KindsLoader,
        repository_id: str,
        max_bytes: int,
        runner: Callable[[], HookRunner],
        pool: Callable[[], AsyncHookRunner] | None = None,
    ) -> None:
        self.loader = loader
        self.repository_id = repository_id
        self.max_bytes = max_bytes
        self.runner = runner
        self.convert = hub_converter(runner, pool)

    async def head(self, revision: str | None) -> Kinds:
        if not revision:
            return Kinds(self.loader.base)
        return await self.loader.at(self.repository_id, revision)

    def effective(
        self, head: Kinds, puts: Iterable[Manifest], removed: Iterable[str] = ()
    ) -> Kinds:
        """``head`` with definitions put (by name) and removed (names) by the request."""
        puts = list(puts)
        gone = set(removed) | {m.name for m in puts}
        if not puts and not gone:
            return head
        kept = [m for m in head.definitions if m.name not in gone]
        return registry_for([*kept, *puts], self.loader.base)

    def for_operations(self, head: Kinds, operations: Sequence[Operation]) -> Kinds:
        puts = [
            op.manifest
            for op in operations
            if isinstance(op, Put) and op.manifest.kind == KIND_DEFINITION_KIND
        ]
        removed = [
            op.name
            for op in operations
            if isinstance(op, Remove) and op.kind == KIND_DEFINITION_KIND
        ]
        return self.effective(head, puts, removed)

    def revalidate(self, operations: Sequence[Operation], registry: KindRegistry) -> None:
        """Every put valid with ``registry`` (a head with other kinds than at input time)."""
        problems: list[Problem] = []
        for op in operations:
            if isinstance(op, Put):
                errors = validate_manifest(op.manifest, registry, check_path=False)
                problems.extend(problems_from_content(errors, op.field))
        if problems:
            raise WriteRefused(problems)

    async def check_hub(
        self, base: str | None, operations: Sequence[Operation], registry: KindRegistry
    ) -> None:
        """Every put written in a spoke version converts to a valid hub document, with the
        hook module read at the head ``base`` (Git keeps the manifest as written)."""
        puts = [op for op in operations if isinstance(op, Put)]

        async def module(path: str) -> bytes | None:
            if not base:
                return None
            return await file_at(self.loader.git, self.repository_id, base, path)

        failures = await hub_problems([p.manifest for p in puts], registry, module, self.convert)
        if failures:
            problems: list[Problem] = []
            for i in sorted(failures):
                problems.extend(problems_from_content(failures[i], puts[i].field))
            raise WriteRefused(problems)

    async def check_change(
        self, base: str | None, old: KindRegistry, new: Kinds, operations: Sequence[Operation]
    ) -> None:
        """Refuse a change of kinds that strands resources (see the module doc)."""
        puts = {op.identity: op for op in operations if isinstance(op, Put)}
        removed = {op.identity for op in operations if isinstance(op, Remove)}

        async def stored(directories: Sequence[str]) -> list[tuple[str, str, bytes]]:
            files = (
                await stored_files(self.loader.git, self.repository_id, base, directories)
                if base
                else []
            )
            gone = {
                p
                for identity in {*removed, *puts}
                for p in _spellings(identity.kind, identity.name, old, new.registry)
            }
            out = [f for f in files if f[0] not in gone]
            for identity, op in puts.items():
                if _plural(identity.kind, new.registry) in directories:
                    path = path_for(identity.kind, identity.name, op.fmt, new.registry)
                    out.append((path, "", op.content))
            return out

        async def module(path: str) -> bytes | None:
            if not base:
                return None
            return await file_at(self.loader.git, self.repository_id, base, path)

        errors = await kind_change_problems(
            old, new, stored, module, self.runner, max_bytes=self.max_bytes
        )
        if not errors:
            return
        by_name = {
            op.manifest.name: op for op in puts.values() if op.manifest.kind == KIND_DEFINITION_KIND
        }
        problems: list[Problem] = []
        for error in errors:
            name = error.path.rsplit("/", 1)[-1].split(".", 1)[0]
            op = by_name.get(name)
            problems.extend(problems_from_content([error], op.field if op else (lambda f: f)))
        raise WriteRefused(problems)


def _plural(kind: str, registry: KindRegistry) -> str | None:
    definition = registry.find(kind)
    return definition.plural if definition else None


def _spellings(kind: str, name: str, *registries: KindRegistry) -> set[str]:
    out: set[str] = set()
    for registry in registries:
        if kind in registry:
            try:
                out.update(candidate_paths(kind, name, registry))
            except ManifestError:
                continue
    return out
