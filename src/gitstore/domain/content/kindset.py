"""The kinds of one commit: built-ins plus the ``KindDefinition``s in its ``kinds/`` tree.

A repository's kinds are not configuration: they are content, versioned with the resources
that use them. The registry that judges a file is therefore always the registry *of the
commit the file is read at* — the head a mutation is planned on, each commit of a push, the
commit a projection materialises. This module is the pure half of that rule:

* ``registry_for(definitions)`` builds the registry from the ``KindDefinition`` manifests of
  one tree (``kinds/*``). Invalid definitions and conflicts (two files defining one kind or
  one plural, a custom kind reusing a built-in's kind name or plural) are left out and
  reported as ``ContentError``s of the file that lost, rule ``kind-definition``: a push or a
  mutation that brings them is refused, and a tree that somehow holds them still serves
  every other kind. A tree with no definitions gets the one shared built-in registry, so
  per-registry caches (``worker.prepared_cache``) and the process pool (built-ins only) work
  exactly as before.
* ``kind_change_errors(old, new, stored)`` is the decision about definition changes that
  would strand stored resources: **refused**. A kind removed (or renamed: its kind name or
  plural changed, which moves or orphans its files) while resources of it remain in the
  tree, or changed so that resources left in the tree no longer validate, is an error on the
  definition file naming the resources — at most ``MAX_NAMED`` of them, plus a count — so
  the author can migrate them in the same push or mutation (change or delete the resources
  together with the definition) and try again. Resources the same change rewrites are judged
  as rewritten, because ``stored`` is read from the new tree.

Reading ``kinds/`` and the stored resources is the caller's job (``gitstore.git.kinds`` reads
them through the git service, with a cache by tree id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gitstore.domain.content.errors import KIND_DEFINITION, ContentError
from gitstore.domain.content.kinds import (
    KIND_DEFINITION_KIND,
    KindDefinition,
    KindRegistry,
    builtin_definitions,
)
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.validation import validate_manifest

KINDS_DIRECTORY = "kinds"  # the plural of the built-in KindDefinition kind
MAX_NAMED = 10  # resources named in one error; the rest are counted


@dataclass(frozen=True)
class Kinds:
    """The registry of one tree, the definitions it was built from and what was refused."""

    registry: KindRegistry
    definitions: tuple[Manifest, ...] = ()
    errors: tuple[ContentError, ...] = field(default=())

    @property
    def custom(self) -> list[KindDefinition]:
        return [d for d in self.registry if not d.builtin]


_BUILTIN: KindRegistry | None = None


def builtin_registry() -> KindRegistry:
    """The one shared registry of built-in kinds (never mutate it)."""
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = KindRegistry(builtin_definitions())
    return _BUILTIN


def registry_for(definitions: Iterable[Manifest], base: KindRegistry | None = None) -> Kinds:
    """The registry of a tree whose ``kinds/`` holds ``definitions`` (see the module doc)."""
    base = base if base is not None else builtin_registry()
    manifests = tuple(
        sorted(
            (m for m in definitions if m.kind == KIND_DEFINITION_KIND),
            key=lambda m: (m.path, m.name),
        )
    )
    if not manifests:
        return Kinds(base)
    registry, errors = base.with_definitions(manifests)
    return Kinds(registry, manifests, tuple(errors))


def changed_kinds(old: KindRegistry, new: KindRegistry) -> tuple[set[str], set[str]]:
    """(kinds gone from ``new`` or renamed, kinds whose definition changed) between trees.

    A custom kind is *gone* when ``new`` has no kind of that name, or has it under another
    plural (its files would live elsewhere); *changed* when its definition differs.
    """
    gone: set[str] = set()
    changed: set[str] = set()
    for definition in old:
        if definition.builtin:
            continue
        now = new.find(definition.kind)
        if now is None or now.plural != definition.plural:
            gone.add(definition.kind)
        elif now != definition:
            changed.add(definition.kind)
    for definition in new:
        if not definition.builtin and definition.kind not in old:
            changed.add(definition.kind)
    return gone, changed


def kind_change_errors(
    old: KindRegistry,
    new: KindRegistry,
    stored: Mapping[str, Sequence[Manifest]],
    *,
    orphans: Mapping[str, Sequence[str]] | None = None,
) -> list[ContentError]:
    """Why changing the kinds from ``old`` to ``new`` strands resources (``[]``: it does not).

    ``stored``: the resources of each changed kind (``changed_kinds``) in the new tree, parsed;
    ``orphans``: the paths of each gone kind's files still in the new tree.
    """
    gone, changed = changed_kinds(old, new)
    errors: list[ContentError] = []
    for kind in sorted(gone):
        paths = sorted((orphans or {}).get(kind, ()))
        if not paths:
            continue
        definition = old.get(kind)
        source = definition.source or f"{KINDS_DIRECTORY}/{definition.plural}.yaml"
        now = new.find(kind)
        what = (
            f"kind {kind} is removed"
            if now is None
            else f"kind {kind} moves from {definition.plural}/ to {now.plural}/"
        )
        errors.append(
            ContentError(
                source,
                "spec.names",
                KIND_DEFINITION,
                f"spec.names: {what} but {named(paths)} still "
                f"{'uses' if len(paths) == 1 else 'use'} it; delete or move "
                f"{'it' if len(paths) == 1 else 'them'} in the same change",
            )
        )
    for kind in sorted(changed):
        target = new.find(kind)
        if target is None:
            continue
        invalid = [
            m.path or f"{target.plural}/{m.name}"
            for m in stored.get(kind, ())
            if validate_manifest(m, new, check_path=False)
        ]
        if not invalid:
            continue
        invalid.sort()
        errors.append(
            ContentError(
                target.source or f"{KINDS_DIRECTORY}/{target.plural}.yaml",
                "spec.versions",
                KIND_DEFINITION,
                f"spec.versions: the new definition of kind {kind} makes {named(invalid)} "
                "invalid; change them in the same change, or keep the definition compatible",
            )
        )
    return errors


def named(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_NAMED])
    more = len(paths) - MAX_NAMED
    count = f"{len(paths)} resource{'s' if len(paths) != 1 else ''}"
    return f"{count} ({shown}{f', and {more} more' if more > 0 else ''})"
