"""Checks across a whole tree of manifests: identities, references, trees, uniqueness.

A single manifest can be schema-valid and still be wrong in its repository.
``check_references(manifests, registry)`` reports, as ``ContentError``s on the files at fault:

* ``duplicate``: two files with one identity (``products/a.yaml`` and ``products/a.json``);
* ``reference``: a name that resolves to nothing: a field whose schema carries
  ``x-reference: {kind: K}`` must name an existing ``K`` (built-ins: product ->
  ``categories``/``collections``, category -> ``parent``, collection -> ``products``);
* ``cycle``: following ``x-reference`` fields marked ``parent: true`` (a category's
  ``parent``) comes back to where it started; every category on the loop is reported;
* ``unique``: two resources of one kind share a value in an ``x-unique`` scope (SKUs across
  all products and their variants), or two products share a storefront handle
  (``spec.handle``, which defaults to ``metadata.name``).

Manifests of unknown kinds are skipped here (``validate_manifest`` reports them). The order of
the errors is deterministic: by file path, then field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gitstore.domain.content.errors import CYCLE, DUPLICATE, REFERENCE, UNIQUE, ContentError
from gitstore.domain.content.errors import field_path as join_path
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.manifest import Manifest, ResourceIdentity


def duplicate_files(
    identity: str, paths: Iterable[str], consequence: str = ""
) -> list[ContentError]:
    """The rule "one resource, one file": a ``duplicate`` error on each file that defines
    ``identity`` (``Kind/name``), every one naming all of them, in path order: the
    push check and the worker's plan word the rule alike (``consequence``: what the
    caller does about it, appended to the message)."""
    ordered = sorted(paths)
    message = (
        f"metadata.name: {identity} is defined by several files ({', '.join(ordered)}); "
        f"one resource, one file{consequence}"
    )
    return [ContentError(path, "metadata.name", DUPLICATE, message) for path in ordered]


def check_references(
    manifests: Iterable[Manifest], registry: KindRegistry | None = None
) -> list[ContentError]:
    """Every cross-manifest problem of a tree; ``[]`` when the tree is consistent."""
    registry = registry or KindRegistry.builtin()
    ordered = sorted(manifests, key=lambda m: (m.path, m.kind, m.name))
    errors: list[ContentError] = []
    by_identity: dict[ResourceIdentity, Manifest] = {}
    for manifest in ordered:
        first = by_identity.get(manifest.identity)
        if first is not None:
            errors.append(
                manifest.error(
                    "metadata.name",
                    DUPLICATE,
                    f"metadata.name: {manifest.identity} is also defined in "
                    f"{first.path or 'another manifest'}; one resource, one file",
                )
            )
            continue
        by_identity[manifest.identity] = manifest

    parents: dict[ResourceIdentity, tuple[ResourceIdentity, str]] = {}
    unique: dict[tuple[str, str, Any], tuple[Manifest, str]] = {}
    for manifest in by_identity.values():
        definition = registry.find(manifest.kind)
        version = definition.version(manifest.api_version) if definition else None
        if version is None:
            continue
        for parts, value, ref in version.find_annotated(manifest.spec, "x-reference"):
            if not isinstance(value, str) or not isinstance(ref, Mapping):
                continue
            target = ResourceIdentity(str(ref.get("kind")), value)
            fld = join_path(["spec", *parts])
            if target not in by_identity:
                errors.append(
                    manifest.error(
                        fld,
                        REFERENCE,
                        f"{fld}: there is no {target.kind} named {value!r} in this repository",
                    )
                )
            elif ref.get("parent") and target.kind == manifest.kind:
                parents[manifest.identity] = (target, fld)
        for parts, value, scope in version.find_annotated(manifest.spec, "x-unique"):
            if isinstance(value, str | int | bool):
                _claim(unique, (manifest.kind, str(scope), value), manifest, parts, errors)
        if manifest.kind == "Product" and definition is not None and definition.builtin:
            handle = manifest.spec.get("handle", manifest.name)
            parts = ["handle"] if "handle" in manifest.spec else []
            _claim(unique, ("Product", "handle", handle), manifest, parts, errors)

    errors.extend(_cycles(parents, by_identity))
    return sorted(errors, key=lambda e: (e.path, e.field, e.rule))


def _claim(
    seen: dict[tuple[str, str, Any], tuple[Manifest, str]],
    key: tuple[str, str, Any],
    manifest: Manifest,
    parts: list[str | int],
    errors: list[ContentError],
) -> None:
    fld = join_path(["spec", *parts]) if parts else "metadata.name"
    owner = seen.get(key)
    if owner is None:
        seen[key] = (manifest, fld)
        return
    other, other_field = owner
    if other is manifest:
        return  # repeats inside one manifest are validate_manifest's business
    errors.append(
        manifest.error(
            fld,
            UNIQUE,
            f"{fld}: {key[1]} {key[2]!r} is already used by {other.identity} ({other_field})",
        )
    )


def _cycles(
    parents: dict[ResourceIdentity, tuple[ResourceIdentity, str]],
    by_identity: Mapping[ResourceIdentity, Manifest],
) -> list[ContentError]:
    errors: list[ContentError] = []
    state: dict[ResourceIdentity, int] = {}  # 1 = on the current walk, 2 = done
    for start in sorted(parents, key=lambda i: (i.kind, i.name)):
        walk: list[ResourceIdentity] = []
        node: ResourceIdentity | None = start
        while node is not None and state.get(node) is None:
            state[node] = 1
            walk.append(node)
            node = parents[node][0] if node in parents else None
        if node is not None and state.get(node) == 1:
            loop = walk[walk.index(node) :]
            chain = " -> ".join(i.name for i in [*loop, node])
            for member in loop:
                fld = parents[member][1]
                errors.append(
                    by_identity[member].error(
                        fld,
                        CYCLE,
                        f"{fld}: the {member.kind.lower()} parents form a cycle: {chain}",
                    )
                )
        for visited in walk:
            state[visited] = 2
    return errors
