"""Document bodies (backends/kv/bodies.py): orjson where it writes json's bytes, else json.

``encode_body`` must give exactly ``json.dumps(document, separators=(",", ":"),
ensure_ascii=False, allow_nan=False).encode()``, and raise what ``json`` raises, for every
document of plain JSON types: checked on floats across the whole range (and in the range
where orjson writes them), on every kind of character, on integers past 64 bits, on
non-finite numbers and non-string keys, and on seeded random documents mixing them.
"""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import orjson
import pytest

from gitstore.backends.kv import encode_body, encode_upsert

REFERENCE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def same(document: Any) -> None:
    """``encode_body`` agrees with the reference: the same bytes, or the same exception type."""
    try:
        expected = REFERENCE(document).encode()
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            encode_body(document)
        return
    assert encode_body(document) == expected, document


def random_float(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.4:  # any bit pattern: every exponent, subnormals, NaN, infinities
        return float(struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0])
    if roll < 0.8:  # where both write plain decimals, and just outside
        return rng.choice((1, -1)) * 10 ** rng.uniform(-6, 18)
    return round(rng.uniform(-1000, 1000), rng.randint(0, 6))  # prices, weights


def test_floats_are_written_as_json_writes_them() -> None:
    rng = random.Random(16)
    for _ in range(20_000):
        same({"x": random_float(rng)})
    for value in (0.0, -0.0, 1e-4, 9.999e-5, 1e-5, 1e16, 9.999999999999998e15, 1e22, 5e-324):
        same({"x": value, "y": [value, -value]})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_as_json_refuses_them(value: float) -> None:
    with pytest.raises(ValueError):
        encode_body({"x": [1, {"y": value}]})


def test_every_character_is_escaped_as_json_escapes_it() -> None:
    chars = [chr(c) for c in range(0x00, 0x3000)] + ["\ufeff", "\uffff", "\U0001f389"]
    for char in chars:
        same({"k": f"a{char}b", f"k{char}": [char]})
    same({"lone": "\ud800"})  # neither can write a lone surrogate as UTF-8


def test_integers_past_64_bits_and_odd_keys_go_to_json() -> None:
    for value in (2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**40):
        same({"n": value})
    same({1: "int key", "a": "b"})
    same({None: 1})
    same({"t": (1, 2)})
    same({"x": object()})


def test_a_string_that_looks_like_a_fallback_trigger_gives_the_same_bytes() -> None:
    for text in ("null", "1e+5", "2e-7", "0.00001", "blue-000012", "e-1"):
        same({"s": text, "n": 1.5})


def test_random_documents() -> None:
    rng = random.Random(17)
    strings = ["", "plain", "ü ✓ 🎉", "\x00\x1f\x7f\x85\u2028", 'q"\\/', "e-1", "null"]

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth < 4 and roll < 0.2:
            return {
                rng.choice(strings) + str(i): value(depth + 1) for i in range(rng.randint(0, 4))
            }
        if depth < 4 and roll < 0.35:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        if roll < 0.6:
            return rng.choice(strings)
        if roll < 0.75:
            return rng.choice([0, -1, 7, 2**53, 2**64, True, False, None])
        return random_float(rng)

    for _ in range(3_000):
        same({"spec": value(0)})


def test_orjson_is_taken_for_ordinary_documents() -> None:
    document = {"spec": {"title": "Shirt", "price": {"amount": "9.50"}, "weight": 0.25, "n": 3}}
    assert encode_body(document) == orjson.dumps(document)


def test_encode_upsert_takes_the_body_as_given() -> None:
    document = {"spec": {"title": "Shirt"}}
    upsert = encode_upsert("product", "p", document, body=encode_body(document))
    assert upsert == encode_upsert("product", "p", document)


@pytest.mark.parametrize(
    "values",
    [
        ["b", "a", "b"],
        [chr(c) + "x" for c in range(1, 0x2100)],
        ["lone \ud800 surrogate", "fine"],  # orjson refuses it: the json writer decides
        ["\U0001f389", "\x7f", "\x85"],
    ],
)
def test_index_sets_are_exactly_the_canonical_json(values: list[str]) -> None:
    upsert = encode_upsert("product", "p", {}, indexes={"tag": values, "handle": ["h"]})
    expected = {"handle": ["h"], "tag": sorted(set(values))}
    assert upsert.indexes == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
