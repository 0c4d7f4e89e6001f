"""Three-way merge of manifests: base (the merge base), target (where the change lands) and
source (the change request's branch).

Per resource ``(kind, name)``:

* the same on both sides, or changed on one side only: that side wins (whole file, so its
  formatting is kept byte for byte);
* deleted on one side and changed on the other: a conflict (``deleted-and-changed``) at the
  resource (field ``""``);
* changed on both sides (or added on both with different data): merged field by field over
  the manifests as data (``apiVersion``, ``metadata``, ``spec``). Mappings merge key by key;
  lists of objects that carry a natural key (``sku``, ``id``, ``key``, ``handle``, ``code``,
  ``name``: the first one every item of all three lists has, as a unique string) merge item
  by item by that key, so two branches editing different variants merge cleanly — their
  paths read ``spec.variants[sku=TEE-M].price.amount``; any other value (scalars, lists of
  scalars, lists without a key) changed differently on both sides is a conflict
  (``both-changed``) at its field. The merged manifest is written in the target file's
  format (YAML, JSON or Markdown frontmatter) by ``encode_manifest``, as API writes are.

Files that are no manifests merge by bytes: one side changed wins, both changed differently
is a conflict at the path. ``MergeResult.actions`` are the writes (bytes) and deletions
(None) that turn the target's files into the merged files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gitstore.domain.content.errors import ManifestError, child_path
from gitstore.domain.content.formats import ManifestFormat, encode_manifest, format_for_path
from gitstore.domain.content.manifest import Manifest, ResourceIdentity

from .diff import Snapshot, Stored

ConflictReason = Literal["both-changed", "deleted-and-changed", "both-added", "invalid-result"]
NATURAL_KEYS = ("sku", "id", "key", "handle", "code", "name")
_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class Conflict:
    """One place both sides changed differently (``kind`` empty: a plain file at ``path``)."""

    kind: str
    name: str
    path: str
    field: str
    reason: ConflictReason
    base: Any = None
    target: Any = None
    source: Any = None

    @property
    def message(self) -> str:
        where = f"{self.kind}/{self.name}" if self.kind else self.path
        at = f" field {self.field}" if self.field else ""
        if self.reason == "deleted-and-changed":
            return f"{where}: deleted on one side and changed on the other"
        if self.reason == "invalid-result":
            return f"{where}: the merged manifest is not valid ({self.target})"
        return (
            f"{where}{at}: changed on both sides "
            f"(target {_show(self.target)}, source {_show(self.source)}, base {_show(self.base)})"
        )


@dataclass(slots=True)
class MergeResult:
    actions: dict[str, bytes | None] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts


def _show(value: Any) -> str:
    return "(absent)" if value is None or value is _ABSENT else repr(value)


def merge_snapshots(base: Snapshot, target: Snapshot, source: Snapshot) -> MergeResult:
    result = MergeResult()
    idents = base.manifests.keys() | target.manifests.keys() | source.manifests.keys()
    for ident in sorted(idents, key=lambda i: (i.kind, i.name)):
        _merge_resource(
            ident,
            base.manifests.get(ident),
            target.manifests.get(ident),
            source.manifests.get(ident),
            result,
        )
    for path in sorted(base.others.keys() | target.others.keys() | source.others.keys()):
        b, t, s = base.others.get(path), target.others.get(path), source.others.get(path)
        if t == s or s == b:
            continue
        if t == b:
            _write(result, path, s, target)
        else:
            result.conflicts.append(Conflict("", "", path, "", "both-changed"))
    return result


def _write(result: MergeResult, path: str, content: bytes | None, target: Snapshot) -> None:
    """Record a write unless the target already holds exactly that (or nothing, for None)."""
    held = target.paths().get(path)
    if held != content:
        result.actions[path] = content


def _same(a: Stored | None, b: Stored | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.manifest == b.manifest


def _merge_resource(
    ident: ResourceIdentity,
    base: Stored | None,
    target: Stored | None,
    source: Stored | None,
    result: MergeResult,
) -> None:
    if _same(target, source) or _same(source, base):
        return  # nothing for the target to take
    if _same(target, base):
        _take(result, target, source)
        return
    if target is None or source is None:
        kept = target or source
        assert kept is not None
        result.conflicts.append(
            Conflict(ident.kind, ident.name, kept.path, "", "deleted-and-changed")
        )
        return
    reason: ConflictReason = "both-added" if base is None else "both-changed"
    old = base.manifest.to_dict() if base is not None else {}
    conflicts: list[Conflict] = []

    def clash(path: str, b: Any, t: Any, s: Any) -> None:
        conflicts.append(
            Conflict(ident.kind, ident.name, target.path, path, reason, _v(b), _v(t), _v(s))
        )

    merged = _merge_value(old, target.manifest.to_dict(), source.manifest.to_dict(), "", clash)
    if conflicts:
        result.conflicts.extend(conflicts)
        return
    try:
        manifest = Manifest.from_object(merged, target.path)
    except ManifestError as exc:
        result.conflicts.append(
            Conflict(ident.kind, ident.name, target.path, "", "invalid-result", target=str(exc))
        )
        return
    fmt = format_for_path(target.path) or ManifestFormat.YAML
    result.actions[target.path] = encode_manifest(manifest, fmt)


def _v(value: Any) -> Any:
    return None if value is _ABSENT else value


def _take(result: MergeResult, target: Stored | None, source: Stored | None) -> None:
    """The source's version of a resource the target did not change (maybe moved)."""
    if target is not None and (source is None or source.path != target.path):
        result.actions[target.path] = None
    if source is not None:
        result.actions[source.path] = source.content


Clash = Callable[[str, Any, Any, Any], None]


def _merge_value(base: Any, target: Any, source: Any, path: str, clash: Clash) -> Any:
    if _eq(target, source) or _eq(source, base):
        return target
    if _eq(target, base):
        return source
    if all(isinstance(v, dict) or v is _ABSENT for v in (base, target, source)) and not (
        target is _ABSENT or source is _ABSENT
    ):
        b = {} if base is _ABSENT else base
        out: dict[str, Any] = {}
        for key in [*target, *(k for k in source if k not in target)]:
            merged = _merge_value(
                b.get(key, _ABSENT),
                target.get(key, _ABSENT),
                source.get(key, _ABSENT),
                child_path(path, key),
                clash,
            )
            if merged is not _ABSENT:
                out[key] = merged
        return out
    key = _natural_key(base, target, source)
    if key is not None:
        return _merge_keyed(base, target, source, key, path, clash)
    clash(path, base, target, source)
    return target


def _eq(a: Any, b: Any) -> bool:
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return type(a) is type(b) and bool(a == b)


def _natural_key(*lists: Any) -> str | None:
    present = [v for v in lists if v is not _ABSENT]
    if not present or not all(isinstance(v, list) for v in present):
        return None
    if not all(isinstance(item, dict) for v in present for item in v):
        return None
    for key in NATURAL_KEYS:
        ok = True
        for items in present:
            values = [item.get(key) for item in items]
            if not all(isinstance(x, str) for x in values) or len(set(values)) != len(values):
                ok = False
                break
        if ok:
            return key
    return None


def _merge_keyed(
    base: Any, target: list[Any], source: Any, key: str, path: str, clash: Clash
) -> Any:
    if target is _ABSENT or source is _ABSENT:
        clash(path, base, target, source)
        return target
    b = {} if base is _ABSENT else {item[key]: item for item in base}
    t = {item[key]: item for item in target}
    s = {item[key]: item for item in source}
    order = [*t, *(k for k in s if k not in t)]
    out: list[Any] = []
    for k in order:
        merged = _merge_value(
            b.get(k, _ABSENT), t.get(k, _ABSENT), s.get(k, _ABSENT), f"{path}[{key}={k}]", clash
        )
        if merged is not _ABSENT:
            out.append(merged)
    return out
