"""Admitting a change of a repository's kinds: the checks a push and a mutation share.

When a commit's ``kinds/`` differs from its parent's (a push's commit, or the tree a
mutation is about to write), the new definitions are admitted only if:

1. they build a registry without conflicts (``kindset.registry_for``: two files defining one
   kind or plural, a custom kind reusing a built-in's name or plural);
2. no stored resource is stranded (``kindset.kind_change_errors``: a removed or renamed kind
   that still has files, a changed schema that resources left in the tree fail) — the
   resources are read from the *new* tree, so migrating them in the same change works;
3. the GraphQL types of every added or changed definition have no name collisions
   (``storeschema.check``: two schemas of it mapping to one type or field name, a type name
   taken by another kind or the platform), reported with kind, version and JSON pointer;
4. every added or changed definition with ``conversion.strategy: Wasm`` passes its
   round-trip check (``domain.conversion.check_conversion``) with the module read from the
   new tree at the path it names, run by the API's ``WasmHookRunner``.

Invalid definition files themselves are refused by the per-file validation every caller
already runs (``validate_manifest`` knows the KindDefinition kind). Everything here only
reads; the answer is a list of ``ContentError``s on the definition files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.domain.content import ContentError, KindRegistry, Manifest, ManifestError
from gitstore.domain.content.formats import parse_manifest
from gitstore.domain.content.kinds import kind_definition_from_manifest
from gitstore.domain.content.kindset import Kinds, changed_kinds, kind_change_errors
from gitstore.domain.conversion import (
    ConversionRequest,
    HookRunner,
    check_conversion,
    needs_hub,
    to_hub,
)
from gitstore.domain.conversion.hub import Convert

from .storeschema.check import name_errors

StoredReader = Callable[[Sequence[str]], Awaitable[list[tuple[str, str, bytes]]]]
ModuleReader = Callable[[str], Awaitable[bytes | None]]


async def kind_change_problems(
    old: KindRegistry,
    new: Kinds,
    stored: StoredReader,
    module: ModuleReader,
    runner: Callable[[], HookRunner],
    *,
    max_bytes: int,
) -> list[ContentError]:
    """Why the tree with kinds ``new`` may not follow one with registry ``old`` (``[]``: ok).

    ``stored(directories)`` reads the files of kind directories in the new tree;
    ``module(path)`` a file of the new tree (None: absent); ``runner()`` the hook runner.
    """
    errors = list(new.errors)
    gone, changed = changed_kinds(old, new.registry)
    if not gone and not changed:
        return errors
    gone_dirs = {old.get(k).plural: k for k in gone}
    changed_dirs = {new.registry.get(k).plural: k for k in changed}
    files = await stored(sorted(set(gone_dirs) | set(changed_dirs)))
    orphans: dict[str, list[str]] = {}
    resources: dict[str, list[Manifest]] = {}
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
    errors.extend(await asyncio.to_thread(name_errors, new.registry, changed))
    for definition in new.definitions:
        try:
            parsed = kind_definition_from_manifest(definition)
        except ManifestError:
            continue
        if parsed.kind not in changed or parsed.conversion.strategy != "Wasm":
            continue
        wasm = await module(parsed.conversion.module)
        errors.extend(await asyncio.to_thread(check_conversion, definition, wasm, runner()))
    return errors


def hub_converter(
    runner: Callable[[], HookRunner], pool: Callable[[], AsyncHookRunner] | None = None
) -> Convert:
    """How a write path runs hooks to the hub: on the API's bounded async pool when there is
    one (``ApiServices.hook_pool``), else on a worker thread — never on the event loop."""

    async def convert(request: ConversionRequest, module: bytes) -> list[dict[str, Any]]:
        if pool is not None:
            return await pool().convert(request, module)
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
