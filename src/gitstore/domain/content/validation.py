"""Validating one manifest: kind and version, JSON Schema, then kind-specific semantics.

``validate_manifest(manifest, registry)`` returns every problem as ``ContentError``s (an empty
list means valid). In order:

1. path (only when ``manifest.path`` is set): the file follows the path convention and its
   content agrees with it (kind and ``metadata.name``); then text: no string holds a control
   character other than tab, newline and carriage return, or a lone surrogate (``text``,
   rule ``invalid-character``);
2. kind and version: the kind is registered and ``apiVersion`` is one of its served versions
   (``unknown-kind`` / ``unknown-version``);
3. the JSON Schema of that version (for built-ins: the hub, ``gitstore.dev/v1``) applied to
   ``spec``; the rule is the JSON Schema keyword that failed and the field is the JSON path
   (``spec.variants[1].price.amount``) that GraphQL ``userErrors.field`` reports;
4. if the schema passed, semantics a schema cannot say: for a ``KindDefinition`` its own
   structure (one hub version, valid schemas, ...); for a ``Product`` that every price in it
   uses one currency, that variants' options match the declared ``options``, and that option
   names, variant SKUs and option combinations are unique within the product.

A manifest in a non-hub version is checked against that version's schema; converting it to
the hub (a WASI hook) happens elsewhere and the result is validated again.
``parse_and_validate`` is parse + validate in one call, raising ``ManifestError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitstore.domain.content.errors import (
    CURRENCY_MISMATCH,
    OPTION,
    UNIQUE,
    UNKNOWN_KIND,
    UNKNOWN_VERSION,
    ContentError,
    ManifestError,
    field_path,
)
from gitstore.domain.content.formats import (
    DEFAULT_MAX_MANIFEST_BYTES,
    ManifestFormat,
    parse_manifest,
)
from gitstore.domain.content.kinds import KIND_DEFINITION_KIND, KindRegistry, kind_definition_errors
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.paths import PathIdentity, identity_errors
from gitstore.domain.content.schemas import spec_errors
from gitstore.domain.content.text import text_errors


def validate_manifest(
    manifest: Manifest,
    registry: KindRegistry | None = None,
    *,
    check_path: bool = True,
    encoded: bytes | None = None,
    identity: PathIdentity | None = None,
) -> list[ContentError]:
    """Every problem with ``manifest``; ``[]`` when it is valid.

    ``encoded``: a UTF-8 JSON text holding every string of the manifest (the worker's
    document body), which the text rule looks at instead of writing its own (``text``).
    ``identity``: what ``identity_for_path(manifest.path, registry)`` returned, when the
    caller already has it (the worker's plan); the path's rules are then not run again.
    """
    registry = registry or KindRegistry.builtin()
    errors: list[ContentError] = []
    if check_path and manifest.path:
        errors.extend(identity_errors(manifest, registry, known=identity))
    errors.extend(text_errors(manifest, encoded))
    definition = registry.find(manifest.kind)
    if definition is None:
        errors.append(
            manifest.error(
                "kind",
                UNKNOWN_KIND,
                f"kind: unknown kind {manifest.kind!r} (known: {', '.join(registry.kinds())})",
            )
        )
        return errors
    version = definition.version(manifest.api_version)
    if version is None:
        served = ", ".join(definition.served_api_versions())
        errors.append(
            manifest.error(
                "apiVersion",
                UNKNOWN_VERSION,
                f"apiVersion: {definition.kind} is not served as {manifest.api_version!r} "
                f"(served: {served})",
            )
        )
        return errors
    if manifest.kind == KIND_DEFINITION_KIND:
        errors.extend(kind_definition_errors(manifest, validator=version.validator))
        return errors
    fast = version.fast_check
    if fast is not None and fast(manifest.spec):
        schema_errors: list[ContentError] = []
    else:  # jsonschema-rs's errors where GitStore can word them, else jsonschema's
        found = fast.errors(manifest.spec) if fast is not None else None
        schema_errors = spec_errors(version.validator, manifest, definition.kind, found)
    errors.extend(schema_errors)
    if not schema_errors and definition.builtin and manifest.kind == "Product":
        errors.extend(product_errors(manifest))
    return errors


def parse_and_validate(
    raw: bytes | str,
    path: str = "",
    registry: KindRegistry | None = None,
    *,
    fmt: ManifestFormat | None = None,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> Manifest:
    """Parse and validate one file; raise ``ManifestError`` with every problem."""
    manifest = parse_manifest(raw, path, fmt=fmt, max_bytes=max_bytes)
    errors = validate_manifest(manifest, registry)
    if errors:
        raise ManifestError(errors)
    return manifest


def product_errors(manifest: Manifest) -> list[ContentError]:
    """Product rules beyond its schema (call only on a schema-valid product)."""
    spec = manifest.spec
    errors: list[ContentError] = []
    _currencies(manifest, errors)
    declared: dict[str, set[str]] = {}
    for i, option in enumerate(spec.get("options", [])):
        if option["name"] in declared:
            fld = f"spec.options[{i}].name"
            errors.append(
                manifest.error(fld, UNIQUE, f"{fld}: option {option['name']!r} is declared twice")
            )
            continue
        declared[option["name"]] = set(option["values"])
    variants = spec.get("variants")
    if not variants:  # no variant: no SKU or combination to compare
        return errors
    # where each SKU and option combination was first met: a variant's index (None: spec.sku);
    # field paths are worded only for an error
    skus: dict[str, int | None] = {}
    if "sku" in spec:
        skus[spec["sku"]] = None
    combinations: dict[tuple[tuple[str, str], ...], int] = {}
    for i, variant in enumerate(variants):
        sku = variant["sku"]
        if sku in skus:
            where = f"spec.variants[{i}]"
            first = skus[sku]
            other = "spec.sku" if first is None else f"spec.variants[{first}].sku"
            errors.append(
                manifest.error(
                    f"{where}.sku", UNIQUE, f"{where}.sku: SKU {sku!r} is also used by {other}"
                )
            )
        skus.setdefault(sku, i)
        chosen = variant.get("options", {})
        undeclared = False  # an option name not in spec.options
        for name, value in chosen.items():
            if name in declared and value in declared[name]:
                continue  # the common case: nothing to word
            undeclared = undeclared or name not in declared
            fld = field_path(["spec", "variants", i, "options", name])
            if name not in declared:
                known = ", ".join(declared) or "none declared in spec.options"
                errors.append(
                    manifest.error(
                        fld, OPTION, f"{fld}: option {name!r} is not in spec.options ({known})"
                    )
                )
            elif value not in declared[name]:
                allowed = ", ".join(sorted(declared[name]))
                errors.append(
                    manifest.error(
                        fld,
                        OPTION,
                        f"{fld}: {value!r} is not a value of option {name!r} ({allowed})",
                    )
                )
        # every name chosen is declared: then as many as declared means none is missing
        if undeclared or len(chosen) != len(declared):
            missing = [n for n in declared if n not in chosen]
        else:
            missing = []
        if missing:
            where = f"spec.variants[{i}]"
            errors.append(
                manifest.error(
                    f"{where}.options",
                    OPTION,
                    f"{where}.options: every variant sets every option; missing "
                    f"{', '.join(missing)}",
                )
            )
        if declared:
            combo = tuple(sorted(chosen.items()) if len(chosen) > 1 else chosen.items())
            if combo in combinations:
                where = f"spec.variants[{i}]"
                errors.append(
                    manifest.error(
                        f"{where}.options",
                        UNIQUE,
                        f"{where}.options: the same options as "
                        f"spec.variants[{combinations[combo]}]",
                    )
                )
            combinations.setdefault(combo, i)
    return errors


def _one_currency(spec: dict[str, Any]) -> bool:
    """True when every price of ``spec`` is absent or a plain ``dict`` and all of them use one
    currency: ``_currencies`` then has nothing to report (the common case, checked without
    the places it would word)."""
    moneys = [spec.get("price"), spec.get("compareAtPrice")]
    for variant in spec.get("variants", ()):
        moneys += (variant.get("price"), variant.get("compareAtPrice"))
    first: Any = _NONE_YET
    for money in moneys:
        if money is not None:
            if type(money) is not dict:
                return False
            currency = money["currency"]
            if first is _NONE_YET:
                first = currency
            elif currency != first:
                return False
    return True


_NONE_YET: Any = object()  # no price met yet


def _currencies(manifest: Manifest, errors: list[ContentError]) -> None:
    spec = manifest.spec
    if _one_currency(spec):
        return
    first: tuple[str, str] | None = None
    # (field path, or the variant index and field to word it from only for an error; money)
    places: list[tuple[str | tuple[int, str], Any]] = [
        ("spec.price", spec.get("price")),
        ("spec.compareAtPrice", spec.get("compareAtPrice")),
    ]
    for i, variant in enumerate(spec.get("variants", [])):
        places.append(((i, "price"), variant.get("price")))
        places.append(((i, "compareAtPrice"), variant.get("compareAtPrice")))
    for place, money in places:
        if not isinstance(money, Mapping):
            continue
        currency = money["currency"]
        if first is not None and currency == first[0]:
            continue  # the common case: nothing to word
        where = place if isinstance(place, str) else f"spec.variants[{place[0]}].{place[1]}"
        if first is None:
            first = (currency, where)
        else:
            fld = f"{where}.currency"
            errors.append(
                manifest.error(
                    fld,
                    CURRENCY_MISMATCH,
                    f"{fld}: {currency} differs from {first[0]} used by {first[1]}; all prices "
                    "of one product use one currency",
                )
            )
