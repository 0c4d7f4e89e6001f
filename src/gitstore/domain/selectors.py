"""Kubernetes-style label selectors: parse once, match many objects.

A selector is a comma-separated list of requirements, all of which must hold:

* ``key=value`` / ``key==value`` — the label is present with that value;
* ``key!=value`` — the label is absent or has another value;
* ``key in (a,b)`` / ``key notin (a,b)`` — set membership (``notin`` also holds when absent);
* ``key`` / ``!key`` — the label exists / does not exist.

Keys are ``[prefix/]name`` with letters, digits, ``-``, ``_``, ``.`` (the prefix a DNS
subdomain); values are at most 63 such characters (possibly empty). An empty selector matches
everything. A malformed selector is ``InvalidArgument`` naming the requirement at fault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import InvalidArgument

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_SET = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        op = self.operator
        if op == "exists":
            return present
        if op == "!exists":
            return not present
        if op in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # "!=", "notin"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def parse_selector(text: str | None, field: str = "labelSelector") -> LabelSelector:
    """The selector ``text`` means (None or blank: match everything)."""
    if text is None or not text.strip():
        return LabelSelector()
    return LabelSelector(tuple(_requirement(part, field) for part in _split(text, field)))


def _split(text: str, field: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
        if depth not in (0, 1):
            raise InvalidArgument(f"{field}: unbalanced parentheses in {text!r}", field=field)
    if depth:
        raise InvalidArgument(f"{field}: unbalanced parentheses in {text!r}", field=field)
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _requirement(part: str, field: str) -> Requirement:
    if not part:
        raise InvalidArgument(f"{field}: empty requirement (two commas in a row?)", field=field)
    found = _SET.match(part)
    if found:
        key, op, raw = found.groups()
        values = [v.strip() for v in raw.split(",")]
        if not values or values == [""]:
            raise InvalidArgument(f"{field}: {part!r} has an empty value set", field=field)
        return Requirement(
            _key(key, part, field), op, frozenset(_value(v, part, field) for v in values)
        )
    for op in ("!=", "==", "="):
        key, sep, value = part.partition(op)
        if sep:
            return Requirement(
                _key(key.strip(), part, field),
                "!=" if op == "!=" else "=",
                frozenset({_value(value.strip(), part, field)}),
            )
    if part.startswith("!"):
        return Requirement(_key(part[1:].strip(), part, field), "!exists")
    return Requirement(_key(part, part, field), "exists")


def _key(key: str, part: str, field: str) -> str:
    if not _KEY.match(key):
        raise InvalidArgument(
            f"{field}: {part!r} has an invalid label key {key!r} ([prefix/]name of letters,"
            " digits, '-', '_', '.')",
            field=field,
        )
    return key


def _value(value: str, part: str, field: str) -> str:
    if not _VALUE.match(value):
        raise InvalidArgument(
            f"{field}: {part!r} has an invalid label value {value!r} (at most 63 letters,"
            " digits, '-', '_', '.')",
            field=field,
        )
    return value
