"""Admitting a change of a repository's kinds: the rules a push and a mutation share.

When a commit's ``kinds/`` differs from its parent's (a push's commit, or the tree a
mutation is about to write), the new definitions are admitted only if:

1. they build a registry without conflicts (``kindset.registry_for``: two files defining one
   kind or plural, a custom kind reusing a built-in's name or plural);
2. no stored resource is stranded (``kindset.kind_change_errors``: a removed or renamed kind
   that still has files, a changed schema that resources left in the tree fail) — the
   resources are read from the *new* tree, so migrating them in the same change works;
3. the GraphQL types of every added or changed definition have no name collisions
   (``type_names``, given by the caller: the API passes ``api.storeschema.check.name_errors``,
   which knows GraphQL — two schemas of it mapping to one type or field name, a type name
   taken by another kind or the platform), reported with kind, version and JSON pointer;
4. no stored resource written in a spoke version of a changed kind fails its conversion to
   the new hub (``stored_hub_errors``: the new hook, run on them as every write path would,
   and the new hub schema): a definition or hook change that would leave stored spokes
   unconvertible is refused, naming them — so the worker, which re-projects every file of a
   changed kind (``worker.rekind``), never meets a failure a push or mutation let in;
5. every added or changed definition with ``conversion.strategy: Wasm`` passes its
   round-trip check (``domain.conversion.check_conversion``) with the module read from the
   new tree at the path it names, run by the API's ``WasmHookRunner``.

A kind whose *hook module file* changed while its definition did not (``hooks_changed``, found
by the push check from the commit's diff) is judged like a changed kind by 4 and 5: new bytes
at the path that do not match the declared ``sha256`` refuse every stored spoke, naming them.

Invalid definition files themselves are refused by the per-file validation every caller
already runs (``validate_manifest`` knows the KindDefinition kind). Everything here only
reads; the answer is a list of ``ContentError``s on the definition files.

The rules are the domain's; the I/O is the caller's: ``stored`` and ``module`` read the new
tree (the push check through git's quarantine, ``api/hooks/prereceive_kinds.py``; the write
path from the branch head plus the request, ``api/catalog/writes/kinds.py``), ``runner``
and ``convert`` run Wasm hooks. ``api/kinds.py`` wires them (the GraphQL name check, the
API's hook pool) for both callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from gitstore.domain.content import ContentError, KindRegistry, Manifest, ManifestError
from gitstore.domain.content.formats import parse_manifest
from gitstore.domain.content.kinds import kind_definition_from_manifest
from gitstore.domain.content.kindset import (
    KINDS_DIRECTORY,
    Kinds,
    changed_kinds,
    kind_change_errors,
    named,
)
from gitstore.domain.content.validation import validate_manifest
from gitstore.domain.conversion import (
    ConversionRequest,
    HookRunner,
    check_conversion,
    needs_hub,
    to_hub,
)
from gitstore.domain.conversion.hub import RULE as CONVERSION
from gitstore.domain.conversion.hub import Convert, spoke_of

StoredReader = Callable[[Sequence[str]], Awaitable[list[tuple[str, str, bytes]]]]
ModuleReader = Callable[[str], Awaitable[bytes | None]]
# why the GraphQL types of kinds (registry, the changed kinds) would collide, as errors
TypeNameCheck = Callable[[KindRegistry, Collection[str]], list[ContentError]]


async def kind_change_problems(
    old: KindRegistry,
    new: Kinds,
    stored: StoredReader,
    module: ModuleReader,
    runner: Callable[[], HookRunner],
    *,
    max_bytes: int,
    type_names: TypeNameCheck,
    hooks_changed: Collection[str] = (),
    convert: Convert | None = None,
    changed_paths: Collection[str] = (),
) -> list[ContentError]:
    """Why the tree with kinds ``new`` may not follow one with registry ``old`` (``[]``: ok).

    ``stored(directories)`` reads the files of kind directories in the new tree;
    ``module(path)`` a file of the new tree (None: absent); ``runner()`` the hook runner;
    ``type_names``: the GraphQL name-collision check of the changed kinds (rule 3);
    ``hooks_changed``: kinds whose hook module file changed while their definition did not;
    ``convert``: how stored spokes are converted (default: ``threaded_converter(runner)``);
    ``changed_paths``: files the change itself writes (like files ``stored`` answers without
    a blob id, a mutation's own writes): judged per file by the caller, so not named again.
    """
    errors = list(new.errors)
    gone, changed = changed_kinds(old, new.registry)
    rehooked = {k for k in hooks_changed if k in new.registry} - changed
    if not gone and not changed and not rehooked:
        return errors
    gone_dirs = {old.get(k).plural: k for k in gone}
    changed_dirs = {new.registry.get(k).plural: k for k in changed | rehooked}
    files = await stored(sorted(set(gone_dirs) | set(changed_dirs)))
    orphans: dict[str, list[str]] = {}
    resources: dict[str, list[Manifest]] = {}
    written = set(changed_paths) | {path for path, blob, _ in files if not blob}
    for path, _, content in files:
        directory = path.split("/", 1)[0]
        if directory in gone_dirs:
            orphans.setdefault(gone_dirs[directory], []).append(path)
        if directory in changed_dirs:
            try:
                manifest = parse_manifest(content, path, max_bytes=max_bytes)
            except ManifestError:
                continue  # a broken file is reported by the per-file checks
            resources.setdefault(changed_dirs[directory], []).append(manifest)
    errors.extend(
        await asyncio.to_thread(kind_change_errors, old, new.registry, resources, orphans=orphans)
    )
    errors.extend(await asyncio.to_thread(type_names, new.registry, changed))
    untouched = {k: [m for m in ms if m.path not in written] for k, ms in resources.items()}
    errors.extend(
        await stored_hub_errors(
            new.registry, untouched, module, convert or threaded_converter(runner)
        )
    )
    for definition in new.definitions:
        try:
            parsed = kind_definition_from_manifest(definition)
        except ManifestError:
            continue
        if parsed.kind not in changed | rehooked or parsed.conversion.strategy != "Wasm":
            continue
        wasm = await module(parsed.conversion.module)
        errors.extend(await asyncio.to_thread(check_conversion, definition, wasm, runner()))
    return errors


async def stored_hub_errors(
    registry: KindRegistry,
    resources: Mapping[str, Sequence[Manifest]],
    module: ModuleReader,
    convert: Convert,
) -> list[ContentError]:
    """Stored resources written in a spoke version that the new definition (its hook, its hub
    schema) cannot store as the hub: one error per kind on its definition file, naming them.

    Resources invalid in the version they are written in are left out (``kind_change_errors``
    names them already); the check converts the rest exactly as every write path would
    (``domain.conversion.to_hub``, one request per (kind, version)).
    """

    def spokes() -> list[Manifest]:
        return [
            m
            for kind in sorted(resources)
            for m in resources[kind]
            if spoke_of(m, registry) is not None
            and not validate_manifest(m, registry, check_path=False)
        ]

    manifests = await asyncio.to_thread(spokes)
    if not manifests:
        return []
    result = await to_hub(manifests, registry, module, convert)
    failed: dict[str, list[tuple[str, ContentError]]] = {}
    for i in sorted(result.failures):
        manifest = manifests[i]
        path = manifest.path or manifest.name
        for error in result.failures[i][:1]:
            failed.setdefault(manifest.kind, []).append((path, error))
    errors: list[ContentError] = []
    for kind, items in sorted(failed.items()):
        definition = registry.get(kind)
        items.sort()
        first_path, first = items[0]
        hook = definition.conversion
        how = f"hook {hook.module}" if hook.strategy == "Wasm" else "relabelling"
        errors.append(
            ContentError(
                definition.source or f"{KINDS_DIRECTORY}/{definition.plural}.yaml",
                "spec.conversion",
                CONVERSION,
                f"spec.conversion: with the new definition of kind {kind} ({how}, hub "
                f"{definition.hub_api_version}) {named([p for p, _ in items])} written in a "
                f"spoke version can no longer be stored as the hub; fix the hook or the hub "
                f"schema, or change those resources in the same change. First: "
                f"{first_path}: {first.message}",
            )
        )
    return errors


def threaded_converter(runner: Callable[[], HookRunner]) -> Convert:
    """Hooks to the hub run by ``runner()`` on a worker thread — never on the event loop."""

    async def convert(request: ConversionRequest, module: bytes) -> list[dict[str, Any]]:
        return await asyncio.to_thread(runner().convert, request, module)

    return convert


async def hub_problems(
    manifests: Sequence[Manifest],
    registry: KindRegistry,
    module: ModuleReader,
    convert: Convert,
) -> dict[int, list[ContentError]]:
    """Why manifests ``i`` cannot be stored as their hub form (``{}``: all can)."""
    if not needs_hub(manifests, registry):
        return {}
    return (await to_hub(manifests, registry, module, convert)).failures
