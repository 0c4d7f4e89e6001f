"""Name collisions of a repository's kinds, found the way the store schema is built.

``name_problems(registry, kinds)`` contributes ``CustomKindsModule`` to a fork of the
platform's shared part (``platform``) — exactly what ``StoreSchemas`` builds, without
building the schema — and returns the ``TypeProblem``s of
``kinds``. ``name_errors`` turns them into ``ContentError``s on the definition files, the
form a push's ``remote:`` lines and a mutation's ``userErrors`` take (``api.kinds``), so a
definition whose GraphQL names collide is refused with its kind, version and JSON pointer.
"""

from __future__ import annotations

from collections.abc import Collection

from gitstore.domain.content import ContentError, KindRegistry
from gitstore.domain.content.errors import KIND_DEFINITION
from gitstore.domain.content.kindset import KINDS_DIRECTORY
from gitstore.switching import short_switches

from ..catalog.types.generate import TypeProblem
from ..graphql.relay import DEFAULT_MAX_PAGE_SIZE
from .groups import CustomKindsModule


def name_problems(registry: KindRegistry, kinds: Collection[str]) -> list[TypeProblem]:
    """The name collisions of ``kinds`` in the store schema of ``registry`` (each kind typed
    once; checked on its own only if that fails, as ``StoreSchemas`` builds)."""
    try:
        custom = _contribute(registry, isolate=False)
    except Exception:  # noqa: BLE001 - a kind that breaks typing: find it on its own
        custom = _contribute(registry, isolate=True)
    return [p for p in custom.problems if p.kind in kinds]


def _contribute(registry: KindRegistry, *, isolate: bool) -> CustomKindsModule:
    # imported here: ``platform`` needs the catalogue mutations, whose writer imports this
    from .platform import platform

    builder = platform(DEFAULT_MAX_PAGE_SIZE).fork()  # the platform's types, shared
    custom = CustomKindsModule(registry, isolate=isolate)
    builder.module = custom.name
    custom.contribute(builder)
    return custom


def name_errors(registry: KindRegistry, kinds: Collection[str]) -> list[ContentError]:
    """``name_problems`` as errors of the definition files (CPU-bound, run in a worker
    thread: with a short GIL switch interval meanwhile, ``switching``)."""
    errors: list[ContentError] = []
    with short_switches():
        problems = name_problems(registry, kinds)
    for problem in problems:
        definition = registry.get(problem.kind)
        index = next((i for i, v in enumerate(definition.versions) if v.name == problem.version), 0)
        errors.append(
            ContentError(
                definition.source or f"{KINDS_DIRECTORY}/{definition.plural}.yaml",
                f"spec.versions[{index}].schema",
                KIND_DEFINITION,
                f"spec.versions[{index}].schema: GraphQL names of kind {problem.kind} "
                f"({problem.version}) collide at {problem.pointer}: {problem.message}",
            )
        )
    return errors
