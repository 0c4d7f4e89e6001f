"""Finding annotated values fast: which parts of a spec carry ``x-reference``/``x-unique``.

``schemas.annotated`` walks a value and its schema together, resolving ``$ref``s at every
step: simple, but a tree check over 10,000 products would spend seconds in it. An
``AnnotationPlan`` is that walk done once per (schema, keyword): a small tree of only the
branches of the schema that lead to the keyword (for a product and ``x-reference``:
``categories[]`` and ``collections[]``), which ``find`` then follows over each value.

The plan follows the same rules as ``schemas.property_schema``: ``properties`` first, then
the first matching ``patternProperties``, then ``additionalProperties``; ``items`` for lists.
A recursive schema is expanded to ``MAX_DEPTH`` levels; a schema whose plan would exceed
``MAX_NODES`` falls back to the plain walk, so results never differ from ``annotated``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitstore.domain.content.schemas import annotated, resolve

MAX_DEPTH = 16
MAX_NODES = 2000
_ABSENT: Any = object()

Found = tuple[list[str | int], Any, Any]


class _TooBig(Exception):
    pass


@dataclass
class _Node:
    annotation: Any = _ABSENT
    names: frozenset[str] = frozenset()
    props: dict[str, _Node] = field(default_factory=dict)
    patterns: list[tuple[re.Pattern[str], _Node | None]] = field(default_factory=list)
    additional: _Node | None = None
    items: _Node | None = None


class AnnotationPlan:
    """Where ``keyword`` annotations can occur in values of ``schema``."""

    def __init__(self, schema: Mapping[str, Any], keyword: str) -> None:
        self.schema = schema
        self.keyword = keyword
        self._count = 0
        try:
            self._root: _Node | None = self._plan(schema, 0)
            self._fallback = False
        except _TooBig:
            self._root = None
            self._fallback = True

    def find(self, value: Any) -> list[Found]:
        """(path, value, annotation) of every annotated value, in document order."""
        if self._fallback:
            return list(annotated(value, self.schema, self.keyword))
        out: list[Found] = []
        if self._root is not None:
            _run(self._root, value, [], out)
        return out

    def _plan(self, schema: Any, depth: int) -> _Node | None:
        if depth > MAX_DEPTH:
            return None
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooBig
        node = resolve(schema, self.schema)
        props_schema = node.get("properties")
        props_schema = props_schema if isinstance(props_schema, Mapping) else {}
        props = {k: self._plan(v, depth + 1) for k, v in props_schema.items()}
        patterns_schema = node.get("patternProperties")
        patterns_schema = patterns_schema if isinstance(patterns_schema, Mapping) else {}
        patterns = [(re.compile(p), self._plan(v, depth + 1)) for p, v in patterns_schema.items()]
        additional = (
            self._plan(node["additionalProperties"], depth + 1)
            if isinstance(node.get("additionalProperties"), Mapping)
            else None
        )
        items = (
            self._plan(node["items"], depth + 1) if isinstance(node.get("items"), Mapping) else None
        )
        annotation = node.get(self.keyword, _ABSENT)
        live_props = {k: v for k, v in props.items() if v is not None}
        live = annotation is not _ABSENT or live_props or additional or items
        if not live and not any(plan for _, plan in patterns):
            return None
        return _Node(
            annotation=annotation,
            names=frozenset(props_schema),
            props=live_props,
            patterns=patterns,
            additional=additional,
            items=items,
        )


def _run(node: _Node, value: Any, parts: list[str | int], out: list[Found]) -> None:
    if node.annotation is not _ABSENT:
        out.append((parts, value, node.annotation))
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub: _Node | None
            if key in node.names:
                sub = node.props.get(key)
            else:
                sub = next((plan for regex, plan in node.patterns if regex.search(key)), _ABSENT)
                if sub is _ABSENT:
                    sub = node.additional
            if sub is not None:
                _run(sub, item, [*parts, key], out)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            _run(node.items, item, [*parts, index], out)
