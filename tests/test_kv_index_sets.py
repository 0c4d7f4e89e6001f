"""``encode_upsert``'s index set: canonical whatever order and shape the entries come in.

The encoder skips sorting where the input is in order already (``document_indexes`` writes
index names sorted, two values often come sorted); these tests hold it to the canonical form
written the plain way (every name sorted, every list deduplicated and sorted) on inputs in
and out of order, duplicated, non-ASCII and not encodable by ``orjson``, and check that every
refusal still names what is wrong.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

import pytest

from gitstore.backends.kv import encode_upsert
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.keys import MAX_INDEX_VALUE_CHARS
from gitstore.domain.projection import document_indexes


def _reference(indexes: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    clean: dict[str, list[str]] = {}
    for index, raw in indexes.items():
        values = [raw] if isinstance(raw, str) else list(raw)
        if values:
            clean[index] = sorted(set(values))
    clean = dict(sorted(clean.items()))
    entries = tuple((index, value) for index, values in clean.items() for value in values)
    return json.dumps(clean, separators=(",", ":"), ensure_ascii=False), entries


def _encoded(indexes: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    upsert = encode_upsert("product", "p", {}, indexes=indexes)
    return upsert.indexes, upsert.entries


CASES: list[dict[str, Any]] = [
    {},
    {"category": []},
    {"category": ["shoes"]},
    {"category": "shoes"},
    {"status": ["active"], "category": ["shoes"]},  # names out of order
    {"a": ["x"], "c": [], "b": ["y"]},  # an empty one between, out of order
    {"collection": ["sale", "new"]},  # two out of order
    {"collection": ["new", "sale"]},  # two in order
    {"collection": ["sale", "sale"]},  # two equal
    {"collection": ["c", "a", "b", "a"]},
    {"collection": ("b", "a")},
    {"collection": {"b", "a"}},
    {"collection": frozenset({"x"})},
    {"collection": dict.fromkeys(["z", "y"]).keys()},  # another iterable
    {"category": ["ß", "ä", "z"], "handle": ["ü-€"]},  # non-ASCII
    {"category": ["\ud800"], "handle": ["a"]},  # a lone surrogate: orjson refuses it
    {"category": ["\u2028", "\x7f"]},
    {"z": ["1"], "y": ["2"], "x": ["3", "1"]},
    {"handle": ["a" * MAX_INDEX_VALUE_CHARS]},
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_index_sets_are_canonical(index: int) -> None:
    assert _encoded(CASES[index]) == _reference(CASES[index])


def test_random_index_sets_are_canonical() -> None:
    rng = random.Random(16)
    names = ["category", "category-status", "collection", "collection-status", "handle", "x"]
    values = ["a", "b", "ab", "b|active", "é", "Z", "a b", "0"]
    for _ in range(2000):
        chosen = rng.sample(names, rng.randint(0, len(names)))
        case = {n: [rng.choice(values) for _ in range(rng.randint(0, 4))] for n in chosen}
        assert _encoded(case) == _reference(case), case


def test_a_products_indexes_are_canonical() -> None:
    spec = {
        "status": "active",
        "categories": ["shoes", "boots", "shoes"],
        "collections": ["sale", "new", ""],
        "handle": "red-boot",
    }
    indexes = document_indexes("Product", "p", spec)
    assert _encoded(indexes) == _reference(indexes)
    assert dict(_encoded(indexes)[1]).keys() == {
        "category",
        "category-status",
        "collection",
        "collection-status",
        "handle",
        "status",
    }


@pytest.mark.parametrize(
    ("indexes", "field"),
    [
        ({"Bad Name": ["x"]}, "index"),
        ({"category": ["ok"], "Bad Name": []}, "index"),
        ({"status": ["a"], "category": [""]}, "category"),
        ({"category": ["ok", "a\x00b"]}, "category"),
        ({"category": ["b", 3]}, "category"),
        ({"category": ["x" * (MAX_INDEX_VALUE_CHARS + 1)]}, "category"),
        ({"category": 3}, "category"),
        ({"category": b"shoes"}, "category"),
        ({"category": {"a": "b"}}, "category"),
    ],
)
def test_bad_index_sets_are_refused_by_name(indexes: dict[str, Any], field: str) -> None:
    for _ in range(2):  # valid names are remembered: a refused one is refused again
        with pytest.raises(InvalidArgument) as caught:
            _encoded(indexes)
        assert caught.value.field == field


def test_indexes_must_be_a_mapping() -> None:
    with pytest.raises(InvalidArgument) as caught:
        encode_upsert("product", "p", {}, indexes=[("category", "x")])  # type: ignore[arg-type]
    assert caught.value.field == "indexes"
