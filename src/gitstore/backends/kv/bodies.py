"""The stored bytes of a document: compact UTF-8 JSON, written by ``orjson`` where it is exact.

A document body is what ``json.dumps(document, separators=(",", ":"), ensure_ascii=False,
allow_nan=False).encode()`` writes, and must stay byte for byte that: bodies are compared as
bytes (shadow re-indexing's digests, ``shadow_compare``), stored bodies are served as they
are (``api/catalog/floor``), and the prepared-file cache promises a hit equals a fresh encode.
``orjson`` (Rust) writes the same text ~3x faster for the plain values a parsed manifest
holds, except in these places, which ``encode_body`` checks on its output and then leaves to
``json``:

* floats below 1e-4 or from 1e16 on: ``json`` writes ``1e-05``, ``orjson`` ``0.00001`` or
  ``1e-5`` (any ``e+``, ``<digit>e-<digit>`` or ``0.0000`` in the output falls back; a
  string holding one only costs the slower writer);
* NaN and infinities: ``orjson`` writes ``null``, ``json`` refuses them (any ``null`` in the
  output falls back, so the refusal is ``json``'s as before);
* integers beyond 64 bits, non-string keys, lone surrogates, nesting over 255 levels and
  types JSON does not have: ``orjson`` raises, ``json`` decides (writes or raises).

Between 1e-4 and 1e16 both write the shortest repr that reads back exactly, in the same
spelling (a million random floats agreed when this was written; ``tests/test_kv_bodies.py``
checks 20,000 across the whole range on every run, with random documents); strings are
escaped alike (``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, other C0 controls as lowercase
``\\u00XX``, everything else raw UTF-8, DEL, C1 and U+2028 included).

Use it for *parsed content* only (dict, list, str, int, float, bool, None): ``orjson`` also
writes UUIDs, enums and dataclasses, which ``json`` refuses. ``encode_upsert`` itself keeps
``json`` for arbitrary input and takes a body made here through ``body=``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# "e-" first (a literal: a fast scan), then a digit on both sides ("blue-000012" is no number)
_NEGATIVE_EXPONENT = re.compile(rb"e-(?<=[0-9]e-)[0-9]").search
# the literals are found by ``re``'s prefix scan: 2-3x faster than ``bytes.__contains__`` on
# a body (its search skips poorly on the frequent bytes of JSON text); the same answers
_NULL = re.compile(rb"null").search
_SMALL = re.compile(rb"0\.0000").search
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def encode_body(document: Mapping[str, Any]) -> bytes:
    """``json``'s compact UTF-8 bytes of ``document`` (raises ``TypeError``/``ValueError`` as
    ``json`` does), written by ``orjson`` where it gives the same bytes."""
    try:
        body = orjson.dumps(document, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included
        return _JSON(document).encode()
    if (
        _NULL(body) is not None
        or (b"+" in body and b"e+" in body)  # "+" alone: one fast scan (memchr) for a rare byte
        or _SMALL(body) is not None
        or _NEGATIVE_EXPONENT(body) is not None  # finds "e-" as fast as a literal search
    ):
        return _JSON(document).encode()
    return body
