"""A fast reader for the plain block YAML our own writers emit, or nothing.

Parsing a product manifest with PyYAML (even libyaml's C scanner plus the lean builder of
``yamlio``) costs ~0.2-0.3 ms, most of it in building PyYAML's event and node objects; it
was the largest single cost of a projection. Almost every manifest the worker reads was
written by ``dump_yaml`` (the API, the CLI, the fixtures): block style, two-space indents,
sequences inside mappings not indented, keys as plain words, strings plain, single-quoted or
literal blocks (``|``, ``|-``), numbers, ``true``/``false``/``null``. ``fast_load`` reads
exactly that shape line by line, ~5-10x faster, and gives up (returns ``None``) on anything
else, so the caller falls back to the PyYAML passes, which decide and report every error.

The rule that keeps this safe: ``fast_load`` returns data only where it is sure the full
pass (``yamlio._load_full``) accepts the text and returns the same data; anything it is not
sure of is a bail-out, never a guess. In particular it gives up on

* tabs, carriage returns, a byte-order mark, NEL/LS/PS line breaks and every character
  PyYAML's reader refuses; a text that does not end in a newline;
* comments, blank lines outside literal blocks, ``---``/``...``/``%`` lines, anchors,
  aliases, tags, flow collections (``[``/``{`` first), ``?``/``:`` keys, merge keys;
* keys that are not plain words (``[A-Za-z0-9_][A-Za-z0-9_ ./-]*``) or do not resolve to a
  string, and duplicate keys;
* plain scalars that start with an indicator (but ``-`` before a digit), hold ``": "`` or
  ``" #"``, end in ``:`` or a space, continue on a next line, or resolve to anything but a
  string, a plain decimal integer (``-?(0|[1-9][0-9]*)``), a plain decimal float
  (``-?[0-9]+.[0-9]+``), a YAML 1.2
  boolean or a null;
* quoted scalars over several lines, double-quoted ones with ``\\`` or ``"`` inside;
* block scalars other than ``|`` and ``|-``, with leading blank lines or
  blank lines holding more spaces than the block's indentation;
* nesting deeper than ``MAX_DEPTH`` (a little below ``yamlio.MAX_DEPTH``); a document that
  is not a mapping.

Scalars resolve through the caller's resolver (``yamlio``'s: YAML 1.1 with 1.2 booleans and
no timestamps), so ``on``/``no``/``2024-01-31`` stay strings exactly as in the full pass.
``tests/domain/test_blockyaml.py`` checks the two agree on generated and mutated texts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 60

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"

# Characters outside PyYAML's printable set, plus tab, CR, NEL, LS, PS and BOM: bail.
_UNSAFE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
# ``key:`` or ``key: value`` at a given column; the key is a plain word.
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ ./-]*")
_DECIMAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)$")
_DECIMAL_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+$")
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@` ")
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
_NULL = frozenset(("null", "Null", "NULL", "~"))
_CACHE_LIMIT = 50_000

Resolver = Callable[[str], str]


class _Bail(Exception):
    """Not the shape this reader is sure of: let PyYAML decide."""


def fast_load(text: str, resolve: Resolver) -> dict[str, Any] | None:
    """The mapping ``text`` holds, or ``None`` when it is not plain writer-shaped YAML.

    ``resolve(plain)`` is the implicit tag of a plain scalar under the caller's rules.
    """
    if not text.endswith("\n"):
        return None
    if text.isascii():  # the common case: only control characters to refuse
        if not text.replace("\n", "").isprintable():
            return None
    elif _UNSAFE.search(text) is not None:
        return None
    lines = text.split("\n")
    lines.pop()
    reader = _Reader(lines, resolve, _caches.setdefault(resolve, {}))
    try:
        if not lines or lines[0][:1] in ("", " "):
            return None
        data = reader.mapping(0, 0)
    except (_Bail, IndexError, RecursionError):
        return None
    return data if reader.i == len(lines) else None


_caches: dict[Resolver, dict[str, Any]] = {}  # per resolver: plain text -> value
_keys: dict[Resolver, set[str]] = {}  # per resolver: keys known to be plain strings
_BAIL: Any = object()


class _Reader:
    __slots__ = ("cache", "i", "keys", "lines", "resolve")

    def __init__(self, lines: list[str], resolve: Resolver, cache: dict[str, Any]) -> None:
        self.lines = lines
        self.resolve = resolve
        self.cache = cache
        self.keys = _keys.setdefault(resolve, set())
        self.i = 0

    def mapping(self, indent: int, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise _Bail
        lines = self.lines
        count = len(lines)
        keys = self.keys
        out: dict[str, Any] = {}
        i = self.i
        while i < count:
            line = lines[i]
            content = line.lstrip(" ")
            ind = len(line) - len(content)
            if ind != indent:
                if ind < indent:
                    break
                raise _Bail
            key, sep, rest = content.partition(": ")
            if not sep:
                if content[-1:] != ":":
                    raise _Bail
                key = content[:-1]
            if key not in keys:
                self.check_key(key)
            if key in out:
                raise _Bail
            if not sep:
                self.i = i + 1
                out[key] = self.nested(indent, depth)
                i = self.i
            elif rest == "|" or rest == "|-":
                self.i = i
                out[key] = self.literal(indent, rest == "|")
                i = self.i
            else:
                out[key] = self.inline(rest)
                i += 1
        self.i = i
        if not out:
            raise _Bail
        return out

    def check_key(self, key: str) -> None:
        if (
            len(key) > 1000
            or _KEY.fullmatch(key) is None
            or key[-1] == " "
            or self.resolve(key) != _STR_TAG
        ):
            raise _Bail
        if len(self.keys) >= _CACHE_LIMIT:
            self.keys.clear()
        self.keys.add(key)

    def nested(self, indent: int, depth: int) -> Any:
        """The value of ``key:`` at ``indent`` (line ``i`` is the next): a block, or null."""
        if self.i == len(self.lines):
            return None
        line = self.lines[self.i]
        ind = len(line) - len(line.lstrip(" "))
        if line.startswith("- ", ind) and ind >= indent:
            return self.sequence(ind, depth + 1)
        if ind > indent:
            return self.mapping(ind, depth + 1)
        return None

    def sequence(self, indent: int, depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise _Bail
        lines = self.lines
        count = len(lines)
        out: list[Any] = []
        i = self.i
        while i < count:
            line = lines[i]
            content = line.lstrip(" ")
            ind = len(line) - len(content)
            if ind != indent:
                if ind < indent:
                    break
                raise _Bail
            if content[:2] != "- ":
                break
            rest = content[2:]
            if (": " in rest or rest[-1:] == ":") and rest[:2] != "- ":  # "- key: ...": a mapping
                lines[i] = f"{line[:ind]}  {rest}"  # the same columns without the dash
                self.i = i
                out.append(self.mapping(indent + 2, depth + 1))
                i = self.i
            elif rest[:2] == "- ":  # "- - item": a sequence item
                lines[i] = f"{line[:ind]}  {rest}"
                self.i = i
                out.append(self.sequence(indent + 2, depth + 1))
                i = self.i
            elif rest == "|" or rest == "|-":
                self.i = i
                out.append(self.literal(indent, rest == "|"))
                i = self.i
            else:
                out.append(self.inline(rest))
                i += 1
        self.i = i
        if not out:
            raise _Bail
        return out

    def inline(self, text: str) -> Any:
        """A scalar written on the rest of one line."""
        first = text[:1]
        if first == "'":
            inner = text[1:-1]
            if len(text) < 2 or text[-1] != "'" or "'" in inner.replace("''", ""):
                raise _Bail
            return inner.replace("''", "'")
        if first == '"':
            inner = text[1:-1]
            if len(text) < 2 or text[-1] != '"' or '"' in inner or "\\" in inner:
                raise _Bail
            return inner
        value = self.cache.get(text, _BAIL)
        if value is not _BAIL:
            return value
        if not first or (first in _INDICATORS and (first != "-" or not "0" <= text[1:2] <= "9")):
            raise _Bail
        if ": " in text or " #" in text or text[-1] in ": ":
            raise _Bail
        value = self.plain(text)
        if value is _BAIL:
            raise _Bail
        return value

    def plain(self, text: str) -> Any:
        """The value of a plain scalar (``text`` itself when a string), or ``_BAIL``."""
        cache = self.cache
        value = cache.get(text, _BAIL)
        if value is not _BAIL:
            return value
        tag = self.resolve(text)
        if tag == _STR_TAG:
            value = text
        elif tag == _INT_TAG and _DECIMAL_INT.match(text):
            value = int(text)
        elif tag == _FLOAT_TAG and _DECIMAL_FLOAT.match(text):
            value = float(text)
        elif tag == _BOOL_TAG and text in _TRUE:
            value = True
        elif tag == _BOOL_TAG and text in _FALSE:
            value = False
        elif tag == _NULL_TAG and text in _NULL:
            value = None
        else:
            return _BAIL
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = value
        return value

    def literal(self, indent: int, clip: bool) -> str:
        """A ``|`` (clip) or ``|-`` (strip) block after the key or dash at ``indent`` (line
        ``i``); its lines are indented deeper than ``indent``."""
        lines = self.lines
        count = len(lines)
        j = self.i + 1
        first = lines[j]
        block = len(first) - len(first.lstrip(" "))
        if block <= indent or block == len(first):
            raise _Bail
        parts: list[str] = []
        while j < count:
            line = lines[j]
            body = len(line.lstrip(" "))
            if body == 0:
                if len(line) > block:
                    raise _Bail
                parts.append("")
            elif len(line) - body < block:
                break
            else:
                parts.append(line[block:])
            j += 1
        while parts[-1] == "":
            parts.pop()
        self.i = j
        return "\n".join(parts) + "\n" if clip else "\n".join(parts)
