"""Field-level semantic diff of two manifests, for dry-run previews and history.

``diff_manifests(old, new)`` compares the manifests as data (never as text: reformatting a
file or switching YAML to JSON is no change) and returns ``FieldChange``s in tree order
(keys sorted, list items by index):

* the path uses the field syntax of validation errors (``spec.variants[1].price.amount``;
  the envelope appears as ``apiVersion``, ``kind``, ``metadata.labels.team``);
* mappings are compared key by key, down to the leaves;
* lists of mappings (variants, media, rules) are compared item by item by position; a longer
  or shorter list adds or removes whole items at the end;
* lists of scalars (tags, categories) are one value: a reorder or an insertion is one change
  showing the whole old and new list;
* ``old``/``new`` of an added/removed field is None, and ``op`` says which.

``None`` for ``old`` (creation) or ``new`` (deletion) diffs against nothing, so a new product
lists every field it sets. A changed type (a mapping replaced by a string) is one change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gitstore.domain.content.errors import field_path
from gitstore.domain.content.manifest import Manifest

Op = Literal["added", "removed", "changed"]
_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    old: Any
    new: Any
    op: Op

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "old": self.old, "new": self.new}


def diff_manifests(old: Manifest | None, new: Manifest | None) -> list[FieldChange]:
    """Changes that turn ``old`` into ``new`` (either may be None)."""
    before = old.to_dict() if old is not None else {}
    after = new.to_dict() if new is not None else {}
    changes: list[FieldChange] = []
    _diff(before, after, [], changes)
    return changes


def diff_values(old: Any, new: Any) -> list[FieldChange]:
    """The same diff for any two JSON-like values (paths relative to them)."""
    changes: list[FieldChange] = []
    _diff(old, new, [], changes)
    return changes


def _diff(old: Any, new: Any, parts: list[str | int], out: list[FieldChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict) and (old or new or not parts):
        for key in sorted(old.keys() | new.keys()):
            _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), [*parts, key], out)
        return
    if _object_list(old) and _object_list(new):
        for index in range(max(len(old), len(new))):
            item_old = old[index] if index < len(old) else _ABSENT
            item_new = new[index] if index < len(new) else _ABSENT
            _diff(item_old, item_new, [*parts, index], out)
        return
    if old is _ABSENT and new is _ABSENT:
        return
    if old is _ABSENT:
        _leaves(new, parts, out, "added")
    elif new is _ABSENT:
        _leaves(old, parts, out, "removed")
    elif type(old) is not type(new) or old != new:
        out.append(FieldChange(field_path(parts), old, new, "changed"))


def _leaves(value: Any, parts: list[str | int], out: list[FieldChange], op: Op) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _leaves(value[key], [*parts, key], out, op)
    elif _object_list(value) and value:
        for index, item in enumerate(value):
            _leaves(item, [*parts, index], out, op)
    elif op == "added":
        out.append(FieldChange(field_path(parts), None, value, op))
    else:
        out.append(FieldChange(field_path(parts), value, None, op))


def _object_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)
