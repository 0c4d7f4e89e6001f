"""A fast reader for the plain block YAML our own writers emit, or nothing.

Parsing a product manifest with PyYAML (even libyaml's C scanner plus the lean builder of
``yamlio``) costs ~0.2-0.3 ms, most of it in building PyYAML's event and node objects; it
was the largest single cost of a projection. Almost every manifest the worker reads was
written by ``dump_yaml`` (the API, the CLI, the fixtures): block style, two-space indents,
sequences inside mappings not indented, keys as plain words, strings plain, single-quoted or
literal blocks (``|``, ``|-``), numbers, ``true``/``false``/``null``. ``fast_load`` reads
exactly that shape line by line, ~10x faster, and gives up (returns ``None``) on anything
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
``tests/domain/test_blockyaml.py`` checks the two agree on generated and mutated texts and
on "line soup" (writer-shaped lines at random places), each read fresh and remembered.

How it reads (issue 16, fourth round: ~37 → ~22 µs for a catalogue product of ~43 lines;
docs/benchmarks.md, "Fourth round: the YAML reader"):

* **One pass, an explicit stack.** ``_read`` walks the lines once; the open block is a dict
  or a list with its ``at`` (twice its indent, plus one for a sequence), the enclosing ones
  on a stack whose length is the depth. Each line has a ``slot`` (twice its indent, plus one
  for an item): equal to ``at``, the line belongs to the block; smaller, it closes blocks
  until one matches (a key line at a sequence's column ends the sequence); larger, it is
  misplaced (bail). ``key:`` takes its value from the next line: a block if that line is an
  item at the key's column or deeper, or a key line deeper; null otherwise. This is the same
  reading, line for line and bail-out for bail-out, as the recursive reader it replaced.
* **What a line is, remembered by its text.** Whether a line is a key line, an item, a
  ``- key: ...`` or ``- - ...`` item or a block scalar's head, its slot, key and scalar
  value depend on the line's text alone (and the resolver), never on where it stands;
  where it stands is ``_read``'s business. So ``_learn`` works a line out once (characters,
  key rules, scalar rules: a line failing any of them fails wherever it stands, so it is
  a bail-out, not remembered) and remembers the answer, an immutable tuple: most lines of a
  catalogue repeat across products (``    currency: EUR``, ``  tags:``). Lines each product
  has its own (name, SKU, title, URL: ~10 of ~43) must not fill the memory, or clearing it
  costs more than it saves: a line is remembered only once seen twice (``young`` holds the
  lines seen once lately, strings only), and the text before ``": "`` of a key line
  (``  title``, ``  - sku``) is remembered apart, so a new line with a known key costs one
  partition and the value's rules. All of it is bounded (cleared when full) and per
  resolver. Characters are checked once per line text (and in block scalars), not over the
  whole text each time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
_LINE_LIMIT = 50_000  # lines remembered per resolver
_YOUNG_LIMIT = 4_000  # lines seen once, remembered until they are seen again or dropped
_LINE_LENGTH = 240  # longer lines are read every time, not remembered

# What a line is (``_Line``'s ``kind``): a key line (``key: value``, ``key:``, ``key: |``),
# an item (``- value``, ``- |``), an item opening a mapping with a key line (``- key: ...``:
# the key line's kind + ``_ITEM_KEY``) or an item opening a sequence (``- - ...``).
_SCALAR, _NESTED, _LITERAL = 0, 1, 2
_ITEM_KEY = 3
_ITEM, _ITEM_LITERAL, _ITEM_SEQUENCE = 6, 7, 8

Resolver = Callable[[str], str]
# (slot, kind, key, value): slot is twice the indent, plus one for an item; value is the
# scalar, ``clip`` for a block scalar, the inner item's entry for ``- - ...``.
_Line = tuple[int, int, Any, Any]


class _Bail(Exception):
    """Not the shape this reader is sure of: let PyYAML decide."""


class _Tables:
    """What the readings under one resolver remember (each bounded: cleared when full).

    ``lines``: line text -> what it is, for lines seen at least twice (``_learn``); ``young``:
    lines seen once lately; ``heads``: the text before ``": "`` of a key line or a ``- key``
    item -> its slot, kind and key; ``keys``: keys known to be plain strings."""

    __slots__ = ("heads", "keys", "lines", "resolve", "young")

    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.lines: dict[str, _Line] = {}
        self.young: set[str] = set()
        self.heads: dict[str, tuple[int, int, str]] = {}
        self.keys: set[str] = set()


_tables: dict[Resolver, _Tables] = {}


def fast_load(text: str, resolve: Resolver) -> dict[str, Any] | None:
    """The mapping ``text`` holds, or ``None`` when it is not plain writer-shaped YAML.

    ``resolve(plain)`` is the implicit tag of a plain scalar under the caller's rules.
    """
    if not text.endswith("\n") or text[:1] in ("\n", " "):
        return None
    tables = _tables.get(resolve)
    if tables is None:
        tables = _tables.setdefault(resolve, _Tables(resolve))
    lines = text.split("\n")
    lines.pop()
    try:
        return _read(lines, tables)
    except (_Bail, IndexError, RecursionError):
        return None


def _read(lines: list[str], tables: _Tables) -> dict[str, Any]:
    """The reading proper: one pass over the lines with an explicit stack of open blocks.

    A block's ``at`` is twice its indent, plus one for a sequence; a line's ``slot`` (from
    ``_learn``) is twice its indent, plus one for an item. A line belongs to the open block
    when the two are equal; a smaller slot closes the block (a line of an enclosing block,
    or a key line after a sequence at the key's column), a larger one is misplaced. The
    value of ``key:`` is the block the next line opens (an item at the key's column or
    deeper, a key line deeper), else null."""
    known = tables.lines.get
    top: dict[str, Any] = {}
    out: Any = top  # the open block: a dict or a list
    at = 0
    stack: list[Any] = []  # the enclosing blocks (their number is the depth)
    ats: list[int] = []  # and their ``at``
    it = iter(lines)
    for line in it:
        entry = known(line) or _learn(line, tables)
        while True:  # once per line; again for the line after a key or a block scalar
            slot, kind, key, value = entry
            while slot != at:
                if slot > at:  # deeper than the block, or an item among keys
                    raise _Bail
                out = stack.pop()
                at = ats.pop()
            if not kind:  # _SCALAR
                if key in out:
                    raise _Bail
                out[key] = value
            elif kind == _NESTED:
                if key in out:
                    raise _Bail
                after = next(it, None)
                if after is None:
                    out[key] = None
                    break
                entry = known(after) or _learn(after, tables)
                slot = entry[0]
                if slot > at:  # a block: a sequence (an item), or a deeper mapping
                    if len(stack) >= MAX_DEPTH:
                        raise _Bail
                    child: Any = [] if slot & 1 else {}
                    out[key] = child
                    stack.append(out)
                    ats.append(at)
                    out = child
                    at = slot
                else:
                    out[key] = None
                continue
            elif kind == _ITEM:
                out.append(value)
            elif _LITERAL < kind < _ITEM:  # "- key...": a mapping in an item, its first key here
                if len(stack) >= MAX_DEPTH:
                    raise _Bail
                child = {}
                out.append(child)
                stack.append(out)
                ats.append(at)
                out = child
                at += 3
                if kind == _ITEM_KEY + _SCALAR:
                    child[key] = value
                else:  # the key's value starts on the next line, or is a block scalar
                    entry = (at, kind - _ITEM_KEY, key, value)
                    continue
            elif kind == _ITEM_SEQUENCE:  # "- - ...": a sequence in an item, its first here
                if len(stack) >= MAX_DEPTH:
                    raise _Bail
                child = []
                out.append(child)
                stack.append(out)
                ats.append(at)
                out = child
                at += 4
                entry = value
                continue
            else:  # a block scalar: "key: |" or "- |"
                if kind == _LITERAL:
                    if key in out:
                        raise _Bail
                    out[key], after = _literal(it, at >> 1, value)
                else:
                    text, after = _literal(it, at >> 1, value)
                    out.append(text)
                if after is None:
                    break
                entry = known(after) or _learn(after, tables)
                continue
            break
    return top


def _learn(line: str, tables: _Tables) -> _Line:
    """What ``line`` is (remembered when short), or ``_Bail`` for a line that fails whatever
    block it stands in."""
    if not (line.isprintable() if line.isascii() else _UNSAFE.search(line) is None):
        raise _Bail
    head, sep, rest = line.partition(": ")
    shape = tables.heads.get(head) if sep else None
    if shape is not None:  # a known "key" or "- key" before ": "
        slot, kind, key = shape
        if rest == "|" or rest == "|-":
            entry: _Line = (slot, kind + _LITERAL, key, rest == "|")
        else:
            entry = (slot, kind, key, _inline(rest, tables))
    else:
        content = line.lstrip(" ")
        entry = _entry(len(line) - len(content), content, tables)
        kind = entry[1]
        if sep and kind != _NESTED and kind < _ITEM_KEY + _NESTED:  # not "- - ...", "- key:"
            heads = tables.heads
            if len(heads) >= _CACHE_LIMIT:
                heads.clear()
            heads[head] = (entry[0], kind - kind % _ITEM_KEY, entry[2])
    young = tables.young
    if line in young:  # seen twice: remember what it is
        known = tables.lines
        if len(known) >= _LINE_LIMIT:
            known.clear()
        known[line] = entry
    elif len(line) <= _LINE_LENGTH:
        if len(young) >= _YOUNG_LIMIT:
            young.clear()
        young.add(line)
    return entry


def _entry(ind: int, content: str, tables: _Tables) -> _Line:
    """What the line ``content`` indented by ``ind`` is: ``(slot, kind, key, value)``."""
    if content[:2] == "- ":
        slot = 2 * ind + 1
        rest = content[2:]
        if rest[:2] == "- ":
            return (slot, _ITEM_SEQUENCE, None, _entry(ind + 2, rest, tables))
        if ": " in rest or rest[-1:] == ":":
            _, kind, key, value = _entry(ind + 2, rest, tables)
            return (slot, kind + _ITEM_KEY, key, value)
        if rest == "|" or rest == "|-":
            return (slot, _ITEM_LITERAL, None, rest == "|")
        return (slot, _ITEM, None, _inline(rest, tables))
    key, sep, rest = content.partition(": ")
    if not sep:
        if content[-1:] != ":":
            raise _Bail
        key = content[:-1]
    if key not in tables.keys:
        _check_key(key, tables)
    if not sep:
        return (2 * ind, _NESTED, key, None)
    if rest == "|" or rest == "|-":
        return (2 * ind, _LITERAL, key, rest == "|")
    return (2 * ind, _SCALAR, key, _inline(rest, tables))


def _check_key(key: str, tables: _Tables) -> None:
    if (
        len(key) > 1000
        or _KEY.fullmatch(key) is None
        or key[-1] == " "
        or tables.resolve(key) != _STR_TAG
    ):
        raise _Bail
    if len(tables.keys) >= _CACHE_LIMIT:
        tables.keys.clear()
    tables.keys.add(key)


def _inline(text: str, tables: _Tables) -> Any:
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
    if not first or (first in _INDICATORS and (first != "-" or not "0" <= text[1:2] <= "9")):
        raise _Bail
    if ": " in text or " #" in text or text[-1] in ": ":
        raise _Bail
    tag = tables.resolve(text)
    if tag == _STR_TAG:
        return text
    if tag == _INT_TAG and _DECIMAL_INT.match(text):
        return int(text)
    if tag == _FLOAT_TAG and _DECIMAL_FLOAT.match(text):
        return float(text)
    if tag == _BOOL_TAG and text in _TRUE:
        return True
    if tag == _BOOL_TAG and text in _FALSE:
        return False
    if tag == _NULL_TAG and text in _NULL:
        return None
    raise _Bail


def _printable(line: str) -> bool:
    """Whether ``line`` holds only characters this reader accepts."""
    if line.isascii():  # the common case: only control characters to refuse
        return line.isprintable()
    return _UNSAFE.search(line) is None


def _literal(it: Iterator[str], indent: int, clip: bool) -> tuple[str, str | None]:
    """A ``|`` (clip) or ``|-`` (strip) block after the key or dash at ``indent``, its lines
    (the next of ``it``) indented deeper than ``indent``; and the line after it, if any."""
    first = next(it, None)
    if first is None or not _printable(first):
        raise _Bail
    block = len(first) - len(first.lstrip(" "))
    if block <= indent or block == len(first):
        raise _Bail
    parts = [first[block:]]
    after: str | None = None
    for line in it:
        body = len(line.lstrip(" "))
        if not _printable(line):
            raise _Bail
        if body == 0:
            if len(line) > block:
                raise _Bail
            parts.append("")
        elif len(line) - body < block:
            after = line
            break
        else:
            parts.append(line[block:])
    while parts[-1] == "":
        parts.pop()
    return ("\n".join(parts) + "\n" if clip else "\n".join(parts)), after
