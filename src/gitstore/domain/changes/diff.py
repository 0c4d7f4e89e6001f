"""Semantic diff between two states of a repository: per resource, per field — never lines.

A ``Snapshot`` is a tree's files read as data: every manifest by identity ``(kind, name)``
(with its path and bytes), plus the files that are no manifests (``README.md``, the layout
marker, files that do not parse) by path. ``semantic_diff(old, new)`` lists per resource
``added`` / ``changed`` / ``removed`` and, for a changed one, the field-level changes of
``gitstore.domain.content.diff`` (``spec.price.amount: 59.00 → 55.00``; lists of objects by
index, as dry-run previews and history show them). A file that only moved (fan-out layout,
``.yml`` → ``.yaml``, YAML → JSON with the same data) is no change of the resource. Files
that are no manifests are compared by bytes and reported with ``kind`` empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gitstore.domain.content.diff import FieldChange, diff_manifests
from gitstore.domain.content.errors import ManifestError
from gitstore.domain.content.formats import DEFAULT_MAX_MANIFEST_BYTES, parse_manifest
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.manifest import Manifest, ResourceIdentity
from gitstore.domain.content.paths import identity_for_path

ResourceOp = Literal["added", "changed", "removed"]


@dataclass(frozen=True, slots=True)
class Stored:
    """One manifest of a snapshot: where it lives, its bytes, its data."""

    path: str
    content: bytes
    manifest: Manifest


@dataclass(slots=True)
class Snapshot:
    manifests: dict[ResourceIdentity, Stored] = field(default_factory=dict)
    others: dict[str, bytes] = field(default_factory=dict)

    def paths(self) -> dict[str, bytes]:
        out = {s.path: s.content for s in self.manifests.values()}
        out.update(self.others)
        return out


def snapshot(
    files: Mapping[str, bytes],
    registry: KindRegistry | None = None,
    max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES,
) -> Snapshot:
    """Read ``files`` (path -> bytes). A manifest that does not parse, or a second file of an
    identity already seen, stays a plain file (validation reports it; the diff shows bytes)."""
    snap = Snapshot()
    for path in sorted(files):
        content = files[path]
        try:
            ident = identity_for_path(path, registry)
            manifest = parse_manifest(content, path, max_bytes=max_bytes) if ident else None
        except ManifestError:
            manifest = None
        if manifest is None or manifest.identity in snap.manifests:
            snap.others[path] = content
            continue
        snap.manifests[manifest.identity] = Stored(path, content, manifest)
    return snap


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """What happened to one resource (``kind`` empty: a file that is no manifest)."""

    kind: str
    name: str
    op: ResourceOp
    path: str
    old_path: str = ""
    fields: tuple[FieldChange, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "op": self.op,
            "path": self.path,
            "oldPath": self.old_path,
            "fields": [f.to_dict() for f in self.fields],
        }


def semantic_diff(old: Snapshot, new: Snapshot) -> list[ResourceChange]:
    """Changes that turn ``old`` into ``new``, sorted by kind, name (then plain files)."""
    out: list[ResourceChange] = []
    for ident in sorted(
        old.manifests.keys() | new.manifests.keys(), key=lambda i: (i.kind, i.name)
    ):
        before, after = old.manifests.get(ident), new.manifests.get(ident)
        if before is None and after is not None:
            fields = tuple(diff_manifests(None, after.manifest))
            out.append(ResourceChange(ident.kind, ident.name, "added", after.path, "", fields))
        elif after is None and before is not None:
            fields = tuple(diff_manifests(before.manifest, None))
            out.append(ResourceChange(ident.kind, ident.name, "removed", before.path, "", fields))
        elif before is not None and after is not None and before.manifest != after.manifest:
            fields = tuple(diff_manifests(before.manifest, after.manifest))
            moved = before.path if before.path != after.path else ""
            out.append(ResourceChange(ident.kind, ident.name, "changed", after.path, moved, fields))
    for path in sorted(old.others.keys() | new.others.keys()):
        a, b = old.others.get(path), new.others.get(path)
        if a == b:
            continue
        op: ResourceOp = "added" if a is None else "removed" if b is None else "changed"
        out.append(ResourceChange("", "", op, path))
    return out
