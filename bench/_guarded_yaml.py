"""Measured, not used: ``yaml_rs`` (Rust) behind a guard that proves it agrees with GitStore.

Issue 16 asked for a native YAML reader used only where a cheap look at the text proves it
agrees with GitStore's YAML rules, falling back to ``blockyaml`` / PyYAML otherwise. This is
that guard, kept in bench/ so the measurement can be repeated (``bench_parsers.py``, row
``yaml_rs behind the guard``): on the catalogue's products the guard's scans cost ~13-20 µs,
so guard + ``yaml_rs`` (~24 µs) is no faster than ``blockyaml`` (~38 µs then, ~22 µs since
issue 16's fourth round) and GitStore keeps ``blockyaml`` (docs/benchmarks.md, "Native
libraries vs our fast paths"; a sound round-trip guard: ``_roundtrip_yaml.py``).

``yaml_rs`` reads YAML 1.2 and GitStore reads manifests with its own rules (``yamlio``:
YAML 1.1 numbers, 1.2 booleans, no timestamps, no aliases, tags, merge keys, duplicate or
non-string keys, one document). The two disagree on some texts (``017``, ``0o17``, ``1e3``,
``12:30``, ``.nan``, ``true: x``, ``&a``/``*a``, ``!!binary``, ...), so the native reader
runs only where a look at the text (a few C-level scans, ~13-20 µs for a product)
proves that they cannot disagree; otherwise ``native_load`` returns ``None`` and the caller
reads the text with ``blockyaml`` or PyYAML as before. It declines a text when

* it is empty or does not end with a newline; it holds a character PyYAML's reader refuses,
  a tab, a carriage return, NEL, a line or paragraph separator or a byte-order mark (line
  breaks in YAML 1.1, not in 1.2) (``blockyaml._UNSAFE``);
* a node (at the start of a line, after a key's ``:`` or after an item's ``-``) starts
  with a character that may begin something the two read differently: a digit, a sign or
  a dot (numbers), ``~ = < ? : & * ! | > [ { " % @ ` , #`` (nulls, ``=``, merge keys,
  complex keys, anchors, aliases, tags, block scalars, flow collections, double-quoted
  escapes, directives, comments), ``---`` and ``...`` included; except a decimal integer
  without leading zeros or a decimal float (``-?(0|[1-9][0-9]*)(.[0-9]+)?``, short enough
  to be exact in both) that ends its line, which both read alike;
* a key is ``true``, ``false`` or ``null`` in one of their spellings (a boolean or null
  key for YAML 1.2, an error for GitStore);
* a line is indented by 40 spaces or more, or holds 8 items (``- ``) in a row: too deep
  to be sure of either reader's nesting limit; or it holds 1,000 characters without a
  ``:`` (a key longer than PyYAML's simple-key limit).

What is left are plain strings starting with a letter (whose only non-string readings,
``true``/``True``/``TRUE``, ``false``..., ``null``/``Null``/``NULL``, are the same in both
rule sets), single-quoted strings, agreed numbers, block mappings and sequences; a plain
scalar continued on a more indented line folds the same way in both. Duplicate keys are an
error of ``yaml_rs`` (``DuplicateKeyPolicy.Error``), and so is anything it cannot read:
``None`` again, so every error is found and worded by the PyYAML pass with its line and
column.

Without ``yaml_rs`` installed, ``native_load`` always returns ``None``.
"""

from __future__ import annotations

import re
from typing import Any

from gitstore.domain.content.blockyaml import _UNSAFE

try:  # pragma: no cover - depends on the install
    from yaml_rs import DuplicateKeyPolicy
    from yaml_rs import _yaml_rs as _native

    _LOADS: Any = _native._loads
    _ERROR_ON_DUPLICATES: Any = DuplicateKeyPolicy.Error
    _FAILURES: tuple[type[BaseException], ...] = (ValueError, RecursionError, OverflowError)
except ImportError:  # pragma: no cover
    _LOADS = None

# A node whose first character is one of these may be typed or read differently by the
# two rule sets (``~``, ``=``, ``<<``), or is a construct GitStore refuses or reads its own
# way (anchors, aliases, tags, flow, block scalars, double quotes, comments, complex keys,
# directives): the guard declines. Digits, signs and dots are numbers: declined unless an
# agreed number ends the line. A '-' is an item before a space, else part of a node.
_RISKY_CHARS = '+~=<?:&*!|>\\[{"%@`,#'
_AGREED_NUMBER = "-?(?:0|[1-9][0-9]{0,17})|-?(?:0|[1-9][0-9]{0,6})\\.[0-9]{1,8}"
_NODE = f"(?:[{_RISKY_CHARS}]|-[^ A-Za-z0-9.]|(?=-?[0-9.])(?!(?:{_AGREED_NUMBER})\\n))"
# One scan per place a node starts; each begins with a literal, which ``re`` finds fast.
_SCANS = tuple(re.compile(prefix + _NODE).search for prefix in (": +", "- +", "\\n *"))
_LONG_KEY = re.compile("\\n[^\\n:]{1000}").search
_SUSPECT_TEXT = (
    " :",  # a key followed by spaces: declined outright, so the next checks see every key
    "rue:", "RUE:", "alse:", "ALSE:", "ull:", "ULL:",  # boolean or null keys
    "\n" + " " * 40,  # deep nesting
    "- " * 8,
)  # fmt: skip


def native_load(text: str) -> dict[str, Any] | None:
    """The mapping ``text`` holds, read by ``yaml_rs``; ``None`` when the text is not of the
    shape where it surely agrees with GitStore's rules, or ``yaml_rs`` refuses it."""
    if _LOADS is None or not text.endswith("\n"):
        return None
    if text.isascii():  # only control characters to refuse (tab, CR, NUL, ...)
        if not text.replace("\n", "").isprintable():
            return None
    elif _UNSAFE.search(text) is not None:
        return None
    if not ("a" <= text[0] <= "z" or "A" <= text[0] <= "Z" or text[0] in "_'"):
        return None
    for suspect in _SUSPECT_TEXT:
        if suspect in text:
            return None
    for scan in _SCANS:
        if scan(text) is not None:
            return None
    if len(text) > 1000 and _LONG_KEY(text) is not None:
        return None
    try:
        data = _LOADS(text, parse_datetime=False, duplicate_key_policy=_ERROR_ON_DUPLICATES)
    except _FAILURES:
        return None
    return data if type(data) is dict else None
