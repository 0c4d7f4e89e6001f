"""Equality-based label selectors, as in Kubernetes: ``a=b,c!=d,e,!f``.

* ``key=value`` (or ``key==value``): the label is present with that value;
* ``key!=value``: the label is absent or has another value;
* ``key``: the label is present; ``!key``: it is absent.

Requirements are ANDed; an empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gitstore.domain.errors import InvalidArgument

_KEY = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "=":
            return labels.get(self.key) == self.value
        if self.op == "!=":
            return labels.get(self.key) != self.value
        if self.op == "exists":
            return self.key in labels
        return self.key not in labels


@dataclass(frozen=True, slots=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def _key(text: str, selector: str) -> str:
    key = text.strip()
    if not _KEY.fullmatch(key) or len(key) > 317:
        raise InvalidArgument(
            f"label selector {selector!r}: {key!r} is not a label key", field="labelSelector"
        )
    return key


def parse_selector(text: str | None) -> Selector:
    """Parse a selector; ``InvalidArgument`` naming the part that is wrong."""
    if text is None or not text.strip():
        return Selector()
    requirements: list[Requirement] = []
    for part in text.split(","):
        term = part.strip()
        if not term:
            raise InvalidArgument(
                f"label selector {text!r} has an empty requirement", field="labelSelector"
            )
        if "!=" in term:
            key, value = term.split("!=", 1)
            op = "!="
        elif "==" in term:
            key, value = term.split("==", 1)
            op = "="
        elif "=" in term:
            key, value = term.split("=", 1)
            op = "="
        elif term.startswith("!"):
            requirements.append(Requirement(_key(term[1:], text), "!exists"))
            continue
        else:
            requirements.append(Requirement(_key(term, text), "exists"))
            continue
        value = value.strip()
        if not _VALUE.fullmatch(value) or len(value) > 63:
            raise InvalidArgument(
                f"label selector {text!r}: {value!r} is not a label value",
                field="labelSelector",
            )
        requirements.append(Requirement(_key(key, text), op, value))
    return Selector(tuple(requirements))
