"""The path convention: where the manifest of ``(kind, name)`` lives in a repository.

One fixed, reversible rule for every kind, built-in or custom, in two layouts
(``layout.py``)::

    <plural>/<bucket>/<name>.<ext>     fanout (default): <bucket> = sha1(name)[:2]
    <plural>/<name>.<ext>              flat (repositories from before the fan-out layout)

=================  ========================  ===============================
kind               directory (plural)        example
=================  ========================  ===============================
Product            ``products/``             ``products/blue-t-shirt.yaml``
Category           ``categories/``           ``categories/shoes.md``
Collection         ``collections/``          ``collections/summer-sale.json``
KindDefinition     ``kinds/``                ``kinds/brands.yaml``
custom (Brand)     ``spec.names.plural``     ``brands/acme.yaml``
=================  ========================  ===============================

The table shows the flat spelling; in the fan-out layout ``products/blue-t-shirt.yaml`` is
``products/ef/blue-t-shirt.yaml``. ``<name>`` is ``metadata.name``; ``<ext>`` is ``.yaml``
(``.yml`` is read too), ``.json`` or ``.md``. ``path_for`` always writes ``.yaml`` for YAML,
so ``identity_for_path(path_for(...))`` gives back the same identity and format, and
``path_for(*identity_for_path(p))`` gives back ``p`` except that ``.yml`` becomes ``.yaml``.
Both layouts are read everywhere (``identity_for_path``, ``candidate_paths``); a file in a
bucket that is not its name's bucket is an ``invalid-path`` error naming the right one.

Files outside a kind directory (``README.md``, ``docs/...``, ``.gitignore``) are not
manifests: ``identity_for_path`` returns None. Inside a kind directory, hidden files
(``.gitkeep``) and ``README*`` files are ignored too; anything else must follow the
convention — a subdirectory other than the name's bucket, an unknown extension or a file
name that is not a valid name raises ``ManifestError`` (rule ``invalid-path``), so a typo
is never silently skipped.
A manifest's content must agree with its path (``identity_errors``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitstore.domain.content.errors import (
    IDENTITY_MISMATCH,
    INVALID_PATH,
    LAYOUT,
    ContentError,
    ManifestError,
)
from gitstore.domain.content.formats import EXTENSIONS, ManifestFormat, format_for_path
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.layout import (
    DEFAULT_LAYOUT,
    LAYOUT_MARKER,
    Layout,
    bucket_for,
    is_bucket,
)
from gitstore.domain.content.manifest import Manifest, ResourceIdentity
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.identity import DNS_LABEL, dns_label_problem


@dataclass(frozen=True, slots=True)
class PathIdentity:
    """What a manifest path says about its file."""

    kind: str
    name: str
    format: ManifestFormat
    layout: Layout = Layout.FLAT

    @property
    def identity(self) -> ResourceIdentity:
        return ResourceIdentity(self.kind, self.name)


def path_for(
    kind: str,
    name: str,
    fmt: ManifestFormat = ManifestFormat.YAML,
    registry: KindRegistry | None = None,
    *,
    layout: Layout = DEFAULT_LAYOUT,
) -> str:
    """The file of ``(kind, name)`` in format ``fmt`` and ``layout``; ``NotFound`` for an
    unknown kind."""
    registry = registry or _builtin()
    definition = registry.get(kind)
    problem = dns_label_problem(name)
    if problem:
        raise InvalidArgument(f"name {name!r} is not a valid name: {problem}", field="name")
    if layout is Layout.FANOUT:
        return f"{definition.plural}/{bucket_for(name)}/{name}{fmt.extension}"
    return f"{definition.plural}/{name}{fmt.extension}"


def candidate_paths(kind: str, name: str, registry: KindRegistry | None = None) -> list[str]:
    """Every path the manifest of ``(kind, name)`` may have: one per accepted extension in
    each layout, fan-out first (both layouts are read in every repository)."""
    registry = registry or _builtin()
    out: list[str] = []
    for layout in (Layout.FANOUT, Layout.FLAT):
        base = path_for(kind, name, registry=registry, layout=layout).removesuffix(".yaml")
        out += [base + ext for ext in EXTENSIONS]
    return out


def identity_for_path(path: str, registry: KindRegistry | None = None) -> PathIdentity | None:
    """Kind, name and format of the manifest at ``path``; None if the file is no manifest.

    Raise ``ManifestError`` (``invalid-path``) for a file inside a kind directory that
    breaks the convention.
    """
    if registry is None:  # not ``or``: a registry's truth is its length, a Python call
        registry = _builtin()
    parts = path.split("/")
    depth = len(parts)
    if depth == 3 or depth == 2:
        # The common case, a well-formed manifest path (``products/ef/blue-t-shirt.yaml``,
        # ``products/blue-t-shirt.yaml``), recognised with one look at each part; anything
        # else takes the checks below, which say what is wrong. A valid name starts with
        # [a-z0-9] (no dotfile, no ``README``) and its right bucket is a bucket.
        base = parts[-1]
        dot = base.rfind(".")
        fmt = EXTENSIONS.get(base[dot:]) if dot > 0 else None
        if fmt is not None and parts[0]:
            stem = base[:dot]
            if DNS_LABEL.fullmatch(stem) and (depth == 2 or parts[1] == bucket_for(stem)):
                definition = registry.by_plural(parts[0])
                if definition is None:
                    return None
                layout = Layout.FANOUT if depth == 3 else Layout.FLAT
                return PathIdentity(definition.kind, stem, fmt, layout)
    return _checked_identity(path, parts, registry)


def _checked_identity(path: str, parts: list[str], registry: KindRegistry) -> PathIdentity | None:
    """``identity_for_path`` the long way (``parts``: ``path.split("/")``), every check in
    turn: the answer for the paths its fast path does not take, and the reference that
    fast path must agree with."""
    if len(parts) < 2 or path.startswith("/"):
        return None
    definition = registry.by_plural(parts[0])
    if definition is None:
        return None
    base = parts[-1]
    if base.startswith(".") or base.startswith("README") or not base:
        return None
    dirname = f"{definition.plural}/"
    if len(parts) > 3 or (len(parts) == 3 and not is_bucket(parts[1])):
        _invalid(
            path,
            f"{definition.kind} manifests live in {dirname}<bucket>/<name>.yaml, <bucket> being "
            f"the first two hex digits of the SHA-1 of the name (or directly in {dirname} in "
            "the flat layout); other subdirectories are not allowed",
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
    if len(parts) == 3:
        if parts[1] != bucket_for(stem):
            _invalid(
                path,
                f"{stem!r} belongs in bucket {bucket_for(stem)}/, not {parts[1]}/: move it to "
                f"{dirname}{bucket_for(stem)}/{base}",
            )
        return PathIdentity(definition.kind, stem, fmt, Layout.FANOUT)
    return PathIdentity(definition.kind, stem, fmt, Layout.FLAT)


def layout_moves(
    paths: Iterable[str], registry: KindRegistry | None = None, *, to: Layout = Layout.FANOUT
) -> list[tuple[str, str]]:
    """``(old, new)`` for every manifest in ``paths`` that is not in layout ``to`` (sorted by
    old path). Files that break the convention, and files that are no manifests, stay."""
    registry = registry or _builtin()
    moves: list[tuple[str, str]] = []
    for path in paths:
        try:
            found = identity_for_path(path, registry)
        except ManifestError:
            continue
        if found is None or found.layout is to:
            continue
        moves.append((path, relocated(path, found, to, registry)))
    return sorted(moves)


def layout_errors(
    paths: Iterable[str], layout: Layout, registry: KindRegistry | None = None
) -> list[ContentError]:
    """The added or changed files ``paths`` that a repository in ``layout`` refuses (rule
    ``layout``, naming the path the file should have).

    A fan-out repository refuses manifests in the flat spelling (``products/a.yaml``: it
    must be ``products/<bucket>/a.yaml``), so the layout its marker announces stays true. A
    flat repository accepts both spellings until it migrates (reads accept both, and a
    hand-made move can land over several pushes before the marker is set). Files that break
    the convention outright, and files that are no manifests, are other rules' business.
    """
    if layout is not Layout.FANOUT:
        return []
    registry = registry or _builtin()
    errors: list[ContentError] = []
    for path in sorted(paths):
        try:
            found = identity_for_path(path, registry)
        except ManifestError:
            continue
        if found is None or found.layout is Layout.FANOUT:
            continue
        errors.append(
            ContentError(
                path,
                "",
                LAYOUT,
                f"this repository uses the fan-out layout ({LAYOUT_MARKER}): move the file "
                f"to {relocated(path, found, Layout.FANOUT, registry)}",
            )
        )
    return errors


def relocated(
    path: str, found: PathIdentity, layout: Layout, registry: KindRegistry | None = None
) -> str:
    """The same file (name and extension, ``.yml`` kept) as ``path`` in ``layout``."""
    ext = path[path.rindex(".") :]
    new = path_for(found.kind, found.name, registry=registry or _builtin(), layout=layout)
    return new.removesuffix(".yaml") + ext


def identity_errors(
    manifest: Manifest, registry: KindRegistry | None = None, *, known: PathIdentity | None = None
) -> list[ContentError]:
    """Problems with ``manifest.path`` itself and disagreements between it and the content.

    ``known``: ``identity_for_path(manifest.path, registry)``, already computed by the
    caller (the worker's plan reads every path once), so it is not computed again.
    """
    registry = registry or _builtin()
    found: PathIdentity | None
    if known is not None:
        found = known
    else:
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
                "<plural>/<bucket>/<name>.<ext>, e.g. products/ef/blue-t-shirt.yaml",
            )
        ]
    errors: list[ContentError] = []
    if found.kind != manifest.kind:
        expected = registry.find(manifest.kind)
        hint = (
            "; move it to "
            + path_for(expected.kind, manifest.name, found.format, registry, layout=found.layout)
            if expected and not dns_label_problem(manifest.name)
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
