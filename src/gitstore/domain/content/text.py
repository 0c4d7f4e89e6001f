"""Which characters text in a manifest may hold.

Every string of a manifest — ``spec`` values and keys at any depth, ``metadata.labels`` and
``metadata.annotations`` — may hold any Unicode character except:

* the C0 control characters U+0000-U+001F other than tab (U+0009), newline (U+000A) and
  carriage return (U+000D) — NUL and friends end up in storefront HTML, JSON consumers and
  terminals as invisible garbage or worse;
* DEL (U+007F) and the C1 control characters U+0080-U+009F (the YAML reader refuses them in
  a file too; a NEL U+0085 is refused with them: write ``\\n``);
* lone surrogates (U+D800-U+DFFF), which no UTF-8 file can hold (they reach us only through
  JSON ``"\\ud800"`` escapes in API input).

Tab, newline and carriage return stay allowed wherever a string is (a description may be
multi-line); a kind whose field must be one line says so in its JSON Schema (``pattern``).
The rule is ``invalid-character`` and the field is the JSON path of the string (or of the key
holding the character), e.g. ``spec.title`` or ``metadata.annotations["note"]``. Validation
(``validation.validate_manifest``) applies it to every manifest, so API writes, ``git push``
and the worker refuse the same text. The walk is iterative (input nested deeper than the YAML
limit can come from API JSON) and stops after ``MAX_REPORTED`` problems.

Almost every manifest is clean, so the walk runs only when a quick look finds a suspect:
``json.dumps(..., ensure_ascii=False)`` (C code) writes every string and key of the three
parts into one text, where C1 controls and lone surrogates stay as they are and C0 controls
become ``\\uXXXX``, ``\\b`` or ``\\f`` escapes (tab, newline and carriage return are ``\\t``,
``\\n``, ``\\r``). One ``BAD_CHARACTER`` search and three substring tests on that text say
"clean" for sure; anything else (a suspect, or a value ``json`` cannot write) runs the walk,
which alone words the errors. A literal backslash before ``u``, ``b`` or ``f`` only costs
the walk.

A caller that already holds such a JSON text of every string of the manifest (the worker:
the document body it is about to store, ``backends/kv/bodies``) passes it as ``encoded``
and the quick look reads that instead of writing its own: in UTF-8 JSON from ``json`` or
``orjson``, raw C0 controls never appear (they are escaped), so the suspects are the same
three escapes, a raw DEL byte and the UTF-8 of a C1 control (``\\xc2\\x80``-``\\xc2\\x9f``);
lone surrogates cannot be encoded, so a text with one never reaches this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gitstore.domain.content.errors import INVALID_CHARACTER, ContentError, child_path
from gitstore.domain.content.manifest import Manifest

MAX_REPORTED = 20
BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_DUMP = json.JSONEncoder(ensure_ascii=False, skipkeys=True).encode  # made once
_C1_UTF8 = re.compile(b"\\xc2[\\x80-\\x9f]").search  # a literal first: a fast scan
_ALLOWED = "tab, newline and carriage return are the only control characters allowed in text"


def bad_character(text: str) -> tuple[int, str] | None:
    """``(index, description)`` of the first character ``text`` may not hold, or None."""
    found = BAD_CHARACTER.search(text)
    if found is None:
        return None
    code = ord(found.group())
    kind = "lone surrogate" if 0xD800 <= code <= 0xDFFF else "control character"
    return found.start(), f"{kind} U+{code:04X}"


def surely_clean(*values: Any) -> bool:
    """True when no string or key in ``values`` can hold a refused character (the quick look
    of the module docstring); False means "look closer", not "bad"."""
    try:
        text = _DUMP(values)
    except (TypeError, ValueError, RecursionError):
        return False
    return (
        "\\u" not in text
        and "\\b" not in text
        and "\\f" not in text
        and BAD_CHARACTER.search(text) is None
    )


def surely_clean_json(encoded: bytes) -> bool:
    """``surely_clean`` on a UTF-8 JSON text already written (``json.dumps(...,
    ensure_ascii=False).encode()`` or ``orjson.dumps``) that holds every string to check."""
    if b"\\" in encoded and (  # one scan for a backslash (rare) before three for escapes
        b"\\u" in encoded or b"\\b" in encoded or b"\\f" in encoded
    ):
        return False
    return b"\x7f" not in encoded and (encoded.isascii() or _C1_UTF8(encoded) is None)


def text_errors(manifest: Manifest, encoded: bytes | None = None) -> list[ContentError]:
    """An ``invalid-character`` error for each string of ``manifest`` holding a refused
    character (see the module docstring); ``[]`` when all text is fine. ``encoded``: a UTF-8
    JSON text holding every string of the manifest, looked at instead of a dump of its own."""
    if encoded is not None:
        if surely_clean_json(encoded):
            return []
    elif surely_clean(manifest.annotations, manifest.labels, manifest.spec):
        return []
    errors: list[ContentError] = []
    stack: list[tuple[str, Any]] = [  # popped from the end: reported in document order
        ("metadata.annotations", manifest.annotations),
        ("metadata.labels", manifest.labels),
        ("spec", manifest.spec),
    ]
    while stack and len(errors) < MAX_REPORTED:
        path, value = stack.pop()
        if isinstance(value, str):
            bad = bad_character(value)
            if bad is not None:
                index, what = bad
                message = f"{path}: {what} at position {index} is not allowed ({_ALLOWED})"
                errors.append(manifest.error(path, INVALID_CHARACTER, message))
        elif isinstance(value, Mapping):
            items = list(value.items())
            for key, item in reversed(items):
                if not isinstance(key, str):
                    continue
                bad = bad_character(key)
                if bad is not None:
                    where = f"{path}[{json.dumps(key)}]"  # ASCII: the key may be unprintable
                    message = f"{where}: the key has a {bad[1]}, which is not allowed ({_ALLOWED})"
                    errors.append(manifest.error(where, INVALID_CHARACTER, message))
                    continue
                quoted = path.startswith("metadata.")  # as the envelope names map entries
                stack.append(
                    (f"{path}[{json.dumps(key)}]" if quoted else child_path(path, key), item)
                )
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return errors
