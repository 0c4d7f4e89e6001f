"""Converting written manifests to their kind's hub version: what every write path shares.

A manifest may be written in any served version of its kind; Git keeps what was written, and
every write path (API mutations, pre-receive of a push, the projection worker, commit
statuses) judges and stores the **hub** form. ``to_hub`` turns a list of manifests that are
already valid in the version they name into hub manifests:

* a manifest already in the hub version (every built-in) is passed through untouched, for
  free;
* a spoke of a kind with ``conversion.strategy: None`` shares the hub's shape: it is
  relabelled to the hub ``apiVersion``;
* spokes of a kind with a Wasm hook are converted in one request per ``(kind, version)``
  (the runner cuts it into JSON Lines batches), with the module read from the repository at
  the commit being judged (``module(path)``; read once per sha256 per call). The hook sees
  only ``spec``: ``apiVersion`` becomes the hub's and ``metadata`` is kept.

Each hub manifest is then validated against the hub schema. A hook that fails (trap, exit,
fuel, memory, output, a refused module, a missing module file) fails **every** document of
its group — the runner is all or nothing, so nothing half converted is ever returned — with
one ``ContentError`` per file (rule ``conversion``, field ``apiVersion``) naming the file, the
kind, the version, the hook and the first lines of its stderr. ``HookTimedOut`` and a busy
pool (``Unavailable``: retryable) are raised, not reported: the caller retries or answers
"try again", and writes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gitstore.domain.content.errors import ContentError
from gitstore.domain.content.kinds import KindDefinition, KindRegistry
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.validation import validate_manifest
from gitstore.domain.conversion.contract import ConversionRequest, Direction, HookRef
from gitstore.domain.conversion.errors import HookFailed, HookModuleRefused

RULE = "conversion"

Convert = Callable[[ConversionRequest, bytes], Awaitable[list[dict[str, Any]]]]
ModuleReader = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class HubResult:
    """``manifests[i]``: the hub form of input ``i``, or None when it failed: ``failures[i]``."""

    manifests: list[Manifest | None]
    failures: dict[int, list[ContentError]]

    @property
    def errors(self) -> list[ContentError]:
        return [e for i in sorted(self.failures) for e in self.failures[i]]


def spoke_of(manifest: Manifest, registry: KindRegistry) -> KindDefinition | None:
    """The kind of ``manifest`` when it is written in a served version other than the hub."""
    definition = registry.find(manifest.kind)
    if definition is None:
        return None
    version = definition.version(manifest.api_version)
    if version is None or version.storage:
        return None
    return definition


def needs_hub(manifests: Sequence[Manifest | None], registry: KindRegistry) -> bool:
    """Whether any of ``manifests`` is a spoke (the cheap test before ``to_hub``)."""
    return any(m is not None and spoke_of(m, registry) is not None for m in manifests)


def conversion_error(manifest: Manifest, definition: KindDefinition, detail: str) -> ContentError:
    return manifest.error(
        "apiVersion",
        RULE,
        f"apiVersion: {definition.kind} {manifest.api_version} could not be converted to the "
        f"hub {definition.hub_api_version}: {detail}",
    )


async def to_hub(
    manifests: Sequence[Manifest],
    registry: KindRegistry,
    module: ModuleReader,
    convert: Convert,
) -> HubResult:
    """The hub form of each manifest (see the module doc); ``manifests`` must be valid."""
    out: list[Manifest | None] = list(manifests)
    failures: dict[int, list[ContentError]] = {}
    groups: dict[tuple[str, str], list[int]] = {}
    for index, manifest in enumerate(manifests):
        if spoke_of(manifest, registry) is not None:
            groups.setdefault((manifest.kind, manifest.api_version), []).append(index)
    if not groups:
        return HubResult(out, failures)
    modules: dict[str, bytes | None] = {}
    converted: list[int] = []
    for (kind, api_version), indexes in sorted(groups.items()):
        definition = registry.get(kind)
        version = api_version.rpartition("/")[2]
        hub = definition.hub_api_version
        hook = definition.conversion
        if hook.strategy != "Wasm":
            for i in indexes:
                out[i] = dataclasses.replace(manifests[i], api_version=hub)
            converted.extend(indexes)
            continue
        if hook.sha256 not in modules:
            modules[hook.sha256] = await module(hook.module)
        wasm = modules[hook.sha256]
        specs = [manifests[i].spec for i in indexes]
        request = ConversionRequest(
            HookRef(kind, hook.module, hook.sha256), Direction.TO_HUB, version,
            definition.hub.name, specs,
        )  # fmt: skip
        try:
            if wasm is None:
                raise HookModuleRefused(
                    "missing", request.context, "the module file is not in the repository"
                )
            specs_out = await convert(request, wasm)
        except (HookFailed, HookModuleRefused) as error:
            for i in indexes:
                out[i] = None
                failures[i] = [conversion_error(manifests[i], definition, str(error))]
            continue
        for i, spec in zip(indexes, specs_out, strict=True):
            out[i] = dataclasses.replace(manifests[i], api_version=hub, spec=spec)
        converted.extend(indexes)
    if converted:
        found = await asyncio.to_thread(_validate, [(i, out[i]) for i in converted], registry)
        for i, problems in found:
            out[i] = None
            failures[i] = [_hub_error(manifests[i], e) for e in problems]
    return HubResult(out, failures)


def _validate(
    items: Sequence[tuple[int, Manifest | None]], registry: KindRegistry
) -> list[tuple[int, list[ContentError]]]:
    found: list[tuple[int, list[ContentError]]] = []
    for i, manifest in items:
        assert manifest is not None
        problems = validate_manifest(manifest, registry, check_path=False)
        if problems:
            found.append((i, problems))
    return found


def _hub_error(written: Manifest, error: ContentError) -> ContentError:
    """A hub validation error, said of the written file (its positions are of the spoke)."""
    return ContentError(
        written.path or error.path,
        error.field,
        error.rule,
        f"{error.message} (after conversion from {written.api_version} to the hub)",
    )
