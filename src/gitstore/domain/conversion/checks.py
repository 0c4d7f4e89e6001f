"""Checking a kind's hook when its definition is added or changed: examples must round-trip.

A ``KindDefinition`` with ``conversion.strategy: Wasm`` may declare examples, each a spec in
one of its versions::

    conversion:
      strategy: Wasm
      wasm: {module: hooks/products.wasm, sha256: <64 hex>}
      examples:
        - version: v1
          spec: {title: Tee, price: {amount: "9.99", currency: EUR}}

An example in a spoke version must come back unchanged through the hub (spoke -> hub ->
spoke); an example in the hub version must come back unchanged through every other served
version (hub -> spoke -> hub). Converted documents must also be valid in the version they
were converted to (its JSON Schema). A hook that fails to run is a failed check too. All
examples of one version go through the hook as one batch per direction.

``check_conversion(manifest, module, runner)`` is pure apart from the runner it is given (an
interface: ``contract.HookRunner``); it returns ``ContentError``s (rule ``conversion``) naming
the kind, version and example, so a push or a mutation that adds such a definition is refused
with the reason, and nothing is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitstore.domain.content.errors import ContentError, child_path, short_repr
from gitstore.domain.content.kinds import KindDefinition, kind_definition_from_manifest
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.schemas import make_validator
from gitstore.domain.conversion.contract import ConversionRequest, Direction, HookRef, HookRunner
from gitstore.domain.errors import GitStoreError

RULE = "conversion"


@dataclass(frozen=True, slots=True)
class ConversionExample:
    index: int  # position in conversion.examples (0-based)
    version: str
    spec: Mapping[str, Any]


def hook_ref(definition: KindDefinition) -> HookRef | None:
    """The kind's Wasm hook, or None for strategy None."""
    hook = definition.conversion
    if hook.strategy != "Wasm":
        return None
    return HookRef(definition.kind, hook.module, hook.sha256)


def conversion_examples(manifest: Manifest) -> list[ConversionExample]:
    """The examples a KindDefinition manifest declares (already schema-checked)."""
    conversion = manifest.spec.get("conversion") or {}
    return [
        ConversionExample(i, e["version"], e["spec"])
        for i, e in enumerate(conversion.get("examples") or [])
    ]


def first_difference(want: Any, got: Any, path: str = "spec") -> str | None:
    """The JSON path of the first place ``got`` differs from ``want``, or None if equal."""
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        for key in sorted(set(want) | set(got)):
            if key not in want or key not in got:
                return child_path(path, key)
            found = first_difference(want[key], got[key], child_path(path, key))
            if found:
                return found
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return path
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    same = type(want) is type(got) and want == got
    return None if same else path


def check_conversion(
    manifest: Manifest, module: bytes | None, runner: HookRunner
) -> list[ContentError]:
    """Round-trip every declared example through the hook; ``[]`` means the hook passes.

    ``module`` is the .wasm file's bytes from the same tree (None: the file is missing).
    """
    definition = kind_definition_from_manifest(manifest)
    hook = hook_ref(definition)
    if hook is None:
        return []
    field = "spec.conversion.wasm.module"
    where = f"kind {definition.kind}: conversion hook {hook.module}"
    if module is None:
        return [manifest.error(field, RULE, f"{field}: {where} is not in the repository")]
    digest = hashlib.sha256(module).hexdigest()
    if digest != hook.sha256:
        return [
            manifest.error(
                "spec.conversion.wasm.sha256",
                RULE,
                f"spec.conversion.wasm.sha256: {where} has sha256 {digest}, "
                f"not the declared {hook.sha256}",
            )
        ]
    errors: list[ContentError] = []
    examples = conversion_examples(manifest)
    by_version: dict[str, list[ConversionExample]] = {}
    for example in examples:
        by_version.setdefault(example.version, []).append(example)
    versions = {v.name: v for v in definition.versions}
    hub = definition.hub.name
    for version, group in by_version.items():
        first = f"spec.conversion.examples[{group[0].index}]"
        if version not in versions:
            errors.append(
                manifest.error(
                    f"{first}.version",
                    RULE,
                    f"{first}.version: kind {definition.kind} has no version {version!r}",
                )
            )
            continue
        if version == hub:
            legs = [(v.name, Direction.FROM_HUB) for v in definition.versions if v.name != hub]
        else:
            legs = [(version, Direction.TO_HUB)]
        for other, direction in legs:
            errors.extend(
                _round_trip(manifest, definition, hook, module, runner, group, other, direction)
            )
    return errors


def _round_trip(
    manifest: Manifest,
    definition: KindDefinition,
    hook: HookRef,
    module: bytes,
    runner: HookRunner,
    examples: list[ConversionExample],
    spoke: str,
    first_direction: Direction,
) -> list[ContentError]:
    hub = definition.hub.name
    start = examples[0].version
    via = hub if first_direction is Direction.TO_HUB else spoke
    second = Direction.FROM_HUB if first_direction is Direction.TO_HUB else Direction.TO_HUB
    label = f"kind {definition.kind}: examples in {start} ({start} -> {via} -> {start})"
    specs = [e.spec for e in examples]
    try:
        middle = runner.convert(ConversionRequest(hook, first_direction, start, via, specs), module)
        back = runner.convert(ConversionRequest(hook, second, via, start, middle), module)
    except GitStoreError as error:
        field = f"spec.conversion.examples[{examples[0].index}]"
        return [manifest.error(field, RULE, f"{field}: {label}: {error.message}")]
    errors: list[ContentError] = []
    middle_schema = next(v.schema for v in definition.versions if v.name == via)
    validator = make_validator(middle_schema)
    for example, converted, returned in zip(examples, middle, back, strict=True):
        field = f"spec.conversion.examples[{example.index}]"
        name = f"kind {definition.kind} example {example.index} ({example.version})"
        invalid = next(iter(validator.iter_errors(converted)), None)
        if invalid is not None:
            errors.append(
                manifest.error(
                    field,
                    RULE,
                    f"{field}: {name} converted to {via} by {hook.module} is not valid in "
                    f"{via}: {invalid.message}",
                )
            )
            continue
        diff = first_difference(example.spec, returned)
        if diff is not None:
            errors.append(
                manifest.error(
                    field,
                    RULE,
                    f"{field}: {name} does not round-trip through {hook.module} "
                    f"({example.version} -> {via} -> {example.version}): {diff} differs, "
                    f"got {short_repr(returned)}",
                )
            )
    return errors
