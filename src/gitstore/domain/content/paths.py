"""The path convention: where the manifest of ``(kind, name)`` lives in a repository.

One fixed, reversible rule for every kind, built-in or custom::

    <plural>/<name>.<ext>

=================  ========================  ===============================
kind               directory (plural)        example
=================  ========================  ===============================
Product            ``products/``             ``products/blue-t-shirt.yaml``
Category           ``categories/``           ``categories/shoes.md``
Collection         ``collections/``          ``collections/summer-sale.json``
KindDefinition     ``kinds/``                ``kinds/brands.yaml``
custom (Brand)     ``spec.names.plural``     ``brands/acme.yaml``
=================  ========================  ===============================

``<name>`` is ``metadata.name``; ``<ext>`` is ``.yaml`` (``.yml`` is read too), ``.json`` or
``.md``. ``path_for`` always writes ``.yaml`` for YAML, so ``identity_for_path(path_for(...))``
gives back the same identity and format, and ``path_for(*identity_for_path(p))`` gives back
``p`` except that ``.yml`` becomes ``.yaml``.

Files outside a kind directory (``README.md``, ``docs/...``, ``.gitignore``) are not
manifests: ``identity_for_path`` returns None. Inside a kind directory, hidden files
(``.gitkeep``) and ``README*`` files are ignored too; anything else must follow the
convention — a subdirectory, an unknown extension or a file name that is not a valid name
raises ``ManifestError`` (rule ``invalid-path``), so a typo is never silently skipped.
A manifest's content must agree with its path (``identity_errors``).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitstore.domain.content.errors import (
    IDENTITY_MISMATCH,
    INVALID_PATH,
    ContentError,
    ManifestError,
)
from gitstore.domain.content.formats import EXTENSIONS, ManifestFormat, format_for_path
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.manifest import Manifest, ResourceIdentity
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.identity import dns_label_problem


@dataclass(frozen=True, slots=True)
class PathIdentity:
    """What a manifest path says about its file."""

    kind: str
    name: str
    format: ManifestFormat

    @property
    def identity(self) -> ResourceIdentity:
        return ResourceIdentity(self.kind, self.name)


def path_for(
    kind: str,
    name: str,
    fmt: ManifestFormat = ManifestFormat.YAML,
    registry: KindRegistry | None = None,
) -> str:
    """The file of ``(kind, name)`` in format ``fmt``; ``NotFound`` for an unknown kind."""
    registry = registry or _builtin()
    definition = registry.get(kind)
    problem = dns_label_problem(name)
    if problem:
        raise InvalidArgument(f"name {name!r} is not a valid name: {problem}", field="name")
    return f"{definition.plural}/{name}{fmt.extension}"


def candidate_paths(kind: str, name: str, registry: KindRegistry | None = None) -> list[str]:
    """Every path the manifest of ``(kind, name)`` may have (one per accepted extension)."""
    registry = registry or _builtin()
    base = path_for(kind, name, registry=registry).removesuffix(".yaml")
    return [base + ext for ext in EXTENSIONS]


def identity_for_path(path: str, registry: KindRegistry | None = None) -> PathIdentity | None:
    """Kind, name and format of the manifest at ``path``; None if the file is no manifest.

    Raise ``ManifestError`` (``invalid-path``) for a file inside a kind directory that
    breaks the convention.
    """
    registry = registry or _builtin()
    parts = path.split("/")
    if len(parts) < 2 or path.startswith("/"):
        return None
    definition = registry.by_plural(parts[0])
    if definition is None:
        return None
    base = parts[-1]
    if base.startswith(".") or base.startswith("README") or not base:
        return None
    dirname = f"{definition.plural}/"
    if len(parts) > 2:
        _invalid(
            path,
            f"{definition.kind} manifests live directly in {dirname} "
            f"({dirname}<name>.yaml); subdirectories are not allowed",
        )
    fmt = format_for_path(path)
    if fmt is None:
        _invalid(
            path,
            f"{base!r} is not a manifest file name: use <name> with one of {', '.join(EXTENSIONS)}",
        )
    assert fmt is not None
    stem = base[: base.rindex(".")]
    problem = dns_label_problem(stem)
    if problem:
        _invalid(path, f"file name {stem!r} is not a valid resource name: {problem}")
    return PathIdentity(definition.kind, stem, fmt)


def identity_errors(manifest: Manifest, registry: KindRegistry | None = None) -> list[ContentError]:
    """Problems with ``manifest.path`` itself and disagreements between it and the content."""
    registry = registry or _builtin()
    try:
        found = identity_for_path(manifest.path, registry)
    except ManifestError as err:
        return list(err.errors)
    if found is None:
        return [
            ContentError(
                manifest.path,
                "",
                INVALID_PATH,
                f"{manifest.path!r} is not in a kind directory; manifests live at "
                "<plural>/<name>.<ext>, e.g. products/blue-t-shirt.yaml",
            )
        ]
    errors: list[ContentError] = []
    if found.kind != manifest.kind:
        expected = registry.find(manifest.kind)
        hint = (
            f"; move it to {expected.plural}/{manifest.name}{found.format.extension}"
            if expected
            else ""
        )
        errors.append(
            manifest.error(
                "kind",
                IDENTITY_MISMATCH,
                f"kind: the file is in {manifest.path.split('/')[0]}/, which holds {found.kind} "
                f"manifests, but it declares kind {manifest.kind}{hint}",
            )
        )
    if found.name != manifest.name:
        errors.append(
            manifest.error(
                "metadata.name",
                IDENTITY_MISMATCH,
                f"metadata.name: {manifest.name!r} does not match the file name "
                f"{found.name!r}; rename the file or change metadata.name (identity is "
                "(kind, metadata.name))",
            )
        )
    return errors


def _invalid(path: str, message: str) -> None:
    raise ManifestError([ContentError(path, "", INVALID_PATH, f"{path}: {message}")])


def _builtin() -> KindRegistry:
    return KindRegistry.builtin()  # cheap: the definitions themselves are cached
