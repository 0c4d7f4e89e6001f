"""Safe YAML in and deterministic YAML out, tuned for manifests.

Reading uses PyYAML's *safe* constructors only (libyaml's C parser when present, else the pure
Python one) with these manifest rules on top:

* a duplicate mapping key is an error (plain YAML silently keeps the last one);
* exactly one document per file (``a: 1\\n---\\nb: 2`` is refused);
* no aliases (``*anchor``): they let a small file expand into a huge tree ("billion laughs");
* only ``true``/``false`` are booleans (YAML 1.2 core): ``no``, ``on`` and ``yes`` stay strings,
  so an option value ``No`` or a country code ``NO`` is not silently turned into ``False``;
* timestamps stay strings (``2024-01-31`` is the string, not a ``date``), so every value is
  JSON-representable; ``!!binary``, ``!!set``, ``!!omap`` and ``!!pairs`` are refused;
* mapping keys must be strings, numbers must be finite, nesting is at most ``MAX_DEPTH`` deep.

``load_yaml`` returns the data and a map from JSON field path to (line, column) of the key or
item, which validation uses to put line numbers on schema errors. Positions are only read
when something is wrong, so ``load_yaml(..., lazy_positions=True)`` builds the data in a
lean PyYAML pass (the same rules, no field paths) and returns ``LazyPositions``, which
parses the text again with the full pass on first use. Any problem in the lean pass also
goes to the full pass, which raises the error with its field path; so the data, the errors
and the positions are exactly those of the full pass, for valid files at about half the
cost (a typical product: ~0.4 ms full, ~0.2 ms lean). The resolver skips PyYAML's
path-resolver bookkeeping (never used here), a third of the composer's time. Before the lean
pass, ``blockyaml.fast_load`` tries the plain block YAML our own writers emit without
PyYAML at all (~0.05-0.09 ms), resolving scalars through the same resolver; it declines
anything it is not sure of, and the lean pass takes over.

Both directions use libyaml's C code when PyYAML has it (same results, much faster on long
text), else PyYAML's pure Python code. Writing (``dump_yaml``) is deterministic: the caller
fixes key order; block style, no line folding, Unicode kept, multi-line strings as literal
blocks (``|``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.error import MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from gitstore.domain.content.blockyaml import fast_load
from gitstore.domain.content.errors import (
    DUPLICATE_KEY,
    INVALID_VALUE,
    MULTIPLE_DOCUMENTS,
    TOO_DEEP,
    YAML_ALIAS,
    YAML_SYNTAX,
    YAML_TAG,
    child_path,
)

MAX_DEPTH = 64

Positions = dict[str, tuple[int, int]]

_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_REFUSED_TAGS = (
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:set",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:pairs",
)
_BOOL_1_2 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class YamlProblem(Exception):
    """A YAML input broke ``rule``; ``line``/``column`` are 1-based when known."""

    def __init__(
        self, rule: str, message: str, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.line = line
        self.column = column


def _resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    table: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept: list[tuple[str, re.Pattern[str]]] = []
        for tag, regexp in entries:
            if tag == _TIMESTAMP_TAG:
                continue
            kept.append((tag, _BOOL_1_2 if tag == _BOOL_TAG else regexp))
        if kept:
            table[first] = kept
    return table


def _configure(cls: Any) -> Any:
    cls.yaml_implicit_resolvers = _resolvers()
    constructors = dict(cls.yaml_constructors)
    for tag in _REFUSED_TAGS:
        constructors.pop(tag, None)
    constructors[_TIMESTAMP_TAG] = yaml.SafeLoader.construct_yaml_str
    cls.yaml_constructors = constructors
    return cls


class _FastResolver:
    """``BaseResolver.resolve`` without path resolvers (none are registered here): the same
    tag for every node, without the per-node descend/ascend bookkeeping."""

    _by_first: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}
    _wildcard: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @classmethod
    def _index(cls, table: dict[Any, list[tuple[str, re.Pattern[str]]]]) -> None:
        wildcard = tuple(table.get(None, ()))
        cls._by_first = {k: (*v, *wildcard) for k, v in table.items() if k is not None}
        cls._wildcard = wildcard

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in self._by_first.get(value[:1], self._wildcard):
                    if regexp.match(value):
                        return tag
            return _STR_TAG
        return _SEQ_TAG if kind is SequenceNode else _MAP_TAG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


class _PyLoader(_FastResolver, yaml.SafeLoader):
    pass


_configure(_PyLoader)
_PyLoader._index(_PyLoader.yaml_implicit_resolvers)
_Loader: Any = _PyLoader
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(_FastResolver, yaml.CSafeLoader):
        pass

    _configure(_CLoader)
    _CLoader._index(_CLoader.yaml_implicit_resolvers)
    _Loader = _CLoader


def load_yaml(
    text: str, line_offset: int = 0, *, lazy_positions: bool = False
) -> tuple[Any, Positions | LazyPositions]:
    """Parse one YAML document; raise ``YamlProblem`` naming the rule it broke.

    ``line_offset`` is added to reported line numbers (frontmatter starts on line 2).
    Returns ``(None, {})`` for an empty document. With ``lazy_positions`` the positions are
    a ``LazyPositions`` computed on first use (see the module docstring).
    """
    try:
        if lazy_positions:
            data = fast_load(text, _plain_tag)
            if data is not None:
                return data, LazyPositions(text, line_offset)
            data = _load_lean(text)
            if data is not _SLOW:
                return data, LazyPositions(text, line_offset)
        return _load_full(text, line_offset)
    except ReaderError as err:  # a character YAML does not allow in a stream (e.g. NUL)
        raise _reader_problem(err, text, line_offset) from None


def _reader_problem(err: ReaderError, text: str, line_offset: int) -> YamlProblem:
    position = max(0, min(int(err.position), len(text)))
    line = text.count("\n", 0, position) + 1 + line_offset
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = err.character
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return YamlProblem(
        YAML_SYNTAX,
        f"invalid YAML: character U+{code:04X} is not allowed in YAML text (control"
        " characters other than tab, newline and carriage return are not)",
        line,
        column,
    )


def _plain_tag(value: str) -> str:
    """The implicit tag of a plain scalar, as ``_FastResolver.resolve`` gives it."""
    for tag, regexp in _Loader._by_first.get(value[:1], _Loader._wildcard):
        if regexp.match(value):
            return tag  # type: ignore[no-any-return]
    return _STR_TAG


class _Slow(Exception):
    """The lean pass met something only the full pass reports properly."""


_SLOW: Any = object()


def _load_lean(text: str) -> Any:
    """The data of a document the full pass accepts, or ``_SLOW`` (let it decide)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _Lean(loader).build(node, 0)
    except (MarkedYAMLError, _Slow, RecursionError):
        return _SLOW
    finally:
        loader.dispose()


class _Lean:
    """``_Builder`` without field paths and positions; ``_Slow`` where it would raise."""

    __slots__ = ("loader", "seen")

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.seen: set[int] = set()

    def build(self, node: Node, depth: int) -> Any:
        key = id(node)
        if key in self.seen or depth > MAX_DEPTH:
            raise _Slow
        self.seen.add(key)
        tag = node.tag
        if isinstance(node, ScalarNode):
            if tag == _STR_TAG:
                return node.value
            if tag == _FLOAT_TAG and node.value.lower().endswith((".inf", ".nan")):
                raise _Slow
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, MappingNode) and tag == _MAP_TAG:
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                    raise _Slow
                name = key_node.value
                if name in out:
                    raise _Slow
                out[name] = self.build(value_node, depth + 1)
            return out
        if isinstance(node, SequenceNode) and tag == _SEQ_TAG:
            return [self.build(item, depth + 1) for item in node.value]
        raise _Slow


class LazyPositions(Mapping[str, tuple[int, int]]):
    """The positions of a document, computed by the full pass when first read. Entries set
    before that (Markdown's ``spec.description``) take precedence."""

    __slots__ = ("_found", "_line_offset", "_set", "_text")

    def __init__(self, text: str, line_offset: int = 0) -> None:
        self._text = text
        self._line_offset = line_offset
        self._found: Positions | None = None
        self._set: Positions = {}

    def _positions(self) -> Positions:
        if self._found is None:
            found = _load_full(self._text, self._line_offset)[1]
            found.update(self._set)
            self._found = found
        return self._found

    def __setitem__(self, key: str, value: tuple[int, int]) -> None:
        self._set[key] = value
        if self._found is not None:
            self._found[key] = value

    def __getitem__(self, key: str) -> tuple[int, int]:
        return self._positions()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions())

    def __len__(self) -> int:
        return len(self._positions())


def _load_full(text: str, line_offset: int) -> tuple[Any, Positions]:
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except MarkedYAMLError as err:
            raise _problem(err, line_offset) from None
        if node is None:
            return None, {}
        builder = _Builder(loader, line_offset)
        try:
            data = builder.build(node, "", 0, None)
        except ConstructorError as err:
            raise _problem(err, line_offset) from None
    except RecursionError:
        raise YamlProblem(TOO_DEEP, f"nesting is deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    return data, builder.positions


def _problem(err: MarkedYAMLError, line_offset: int) -> YamlProblem:
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 + line_offset if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    if err.context == "expected a single document in the stream":
        return YamlProblem(
            MULTIPLE_DOCUMENTS,
            "a manifest file holds exactly one YAML document, found a second one ('---')",
            line,
            column,
        )
    if isinstance(err, ConstructorError) and "could not determine a constructor" in str(
        err.problem
    ):
        tag = str(err.problem).rsplit(" ", 1)[-1]
        return YamlProblem(YAML_TAG, f"YAML tag {tag} is not allowed in manifests", line, column)
    text = " ".join(p for p in (err.context, err.problem) if p)
    return YamlProblem(YAML_SYNTAX, f"invalid YAML: {text}", line, column)


class _Builder:
    """Turns the node tree into plain data, enforcing the manifest rules on the way.

    Mappings and sequences are built here (only the plain ``map``/``seq`` tags); scalars that
    are not plain strings go through PyYAML's safe constructors (ints, floats, booleans,
    nulls; refused tags raise there). Doing the walk and the construction in one pass is about
    twice as fast as composing, checking and then constructing.
    """

    def __init__(self, loader: Any, line_offset: int) -> None:
        self.loader = loader
        self.line_offset = line_offset
        self.positions: Positions = {}
        self.seen: set[int] = set()

    def where(self, mark: Any) -> tuple[int, int]:
        return mark.line + 1 + self.line_offset, mark.column + 1

    def build(self, node: Node, path: str, depth: int, used_at: Any) -> Any:
        """``used_at`` is the mark of the key holding ``node`` (an alias node carries the
        mark of its anchor, not of where it is used)."""
        if id(node) in self.seen:
            raise YamlProblem(
                YAML_ALIAS,
                "YAML aliases (*anchor) are not allowed in manifests; write the value out",
                *self.where(used_at or node.start_mark),
            )
        self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise YamlProblem(
                TOO_DEEP, f"nesting is deeper than {MAX_DEPTH} levels", *self.where(node.start_mark)
            )
        if isinstance(node, ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            if node.tag == _FLOAT_TAG and node.value.lower().endswith((".inf", ".nan")):
                raise YamlProblem(
                    INVALID_VALUE,
                    f"{path or 'value'}: {node.value} is not a finite number",
                    *self.where(node.start_mark),
                )
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
            items = []
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                self.positions[child] = self.where(item.start_mark)
                items.append(self.build(item, child, depth + 1, None))
            return items
        raise YamlProblem(
            YAML_TAG,
            f"YAML tag {node.tag} is not allowed in manifests",
            *self.where(node.start_mark),
        )

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            kmark = key_node.start_mark
            line, column = self.where(kmark)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlProblem(
                    YAML_ALIAS,
                    "YAML merge keys (<<) are not allowed in manifests; write the fields out",
                    line,
                    column,
                )
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                shown = f" {key_node.value!r}" if isinstance(key_node, ScalarNode) else ""
                message = f"mapping keys must be strings; quote the key{shown}"
                raise YamlProblem(INVALID_VALUE, message, line, column)
            key = key_node.value
            if key in out:
                raise YamlProblem(
                    DUPLICATE_KEY,
                    f"duplicate key {key!r} (each key may appear only once in a mapping)",
                    line,
                    column,
                )
            child = child_path(path, key)
            self.positions[child] = (line, column)
            out[key] = self.build(value_node, child, depth + 1, kmark)
        return out


def _represent_str(dumper: Any, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar(_STR_TAG, value, style="|")  # type: ignore[no-any-return]
    return dumper.represent_scalar(_STR_TAG, value)  # type: ignore[no-any-return]


class _PyDumper(yaml.SafeDumper):
    pass


_PyDumper.add_representer(str, _represent_str)
_Dumper: Any = _PyDumper
if getattr(yaml, "__with_libyaml__", False):  # same bytes, ~50x faster on long text

    class _CDumper(yaml.CSafeDumper):
        pass

    _CDumper.add_representer(str, _represent_str)
    _Dumper = _CDumper


def dump_yaml(data: Any) -> str:
    """Block-style YAML in the key order of ``data`` (no sorting, no folding)."""
    for value in _floats(data):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number")
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=2**31 - 1,
        indent=2,
    )
    return text


def _floats(data: Any) -> list[float]:
    if isinstance(data, float):
        return [data]
    if isinstance(data, dict):
        return [f for v in data.values() for f in _floats(v)]
    if isinstance(data, list):
        return [f for v in data for f in _floats(v)]
    return []
