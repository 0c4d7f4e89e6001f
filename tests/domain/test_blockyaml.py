"""The block-YAML fast reader gives exactly what the full PyYAML pass gives, or nothing.

``blockyaml.fast_load`` may decline any text (``None``: the PyYAML passes decide), but when
it returns data, the full pass (``yamlio._load_full``) must accept the text and return equal
data of the same types. Checked on hand-written tricky documents, on ``dump_yaml`` output of
seeded random data (plain and tricky keys and strings), on random mutations of that output
(so malformed and unusual texts), on "line soup" (writer-shaped lines at random places and
indents, so every way a block opens and closes), and through ``parse_manifest`` on real
manifests. Writer output of ordinary data must take the fast path (not just fall back). The
reader remembers what a line is by its text: every text is read more than once, so lines are
read both fresh and remembered, in other texts and other places; with tiny limits too.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestFormat,
    blockyaml,
    encode_manifest,
    yamlio,
)
from gitstore.domain.content.blockyaml import fast_load
from gitstore.domain.content.formats import parse_manifest
from gitstore.domain.content.yamlio import YamlProblem, dump_yaml
from tests.domain import samples
from tests.domain.test_yaml_lean import DOCUMENTS

PLAIN_KEYS = [
    "name",
    "title",
    "sku",
    "price",
    "amount",
    "currency",
    "a b",
    "x.y/z",
    "k_1",
    "9lives",
]
TRICKY_KEYS = ["on", "yes", "no", "1", "1.5", "null", "true", "-a", "a:b", "#c", "ünï", "", "~"]
PLAIN_STRINGS = [
    "EUR", "active", "Ocean Mirror 3 | Fabrikam", "A mirror, made to last (rev 0).",
    "https://cdn.example.com/p/1.jpg", "100% merino", "on", "yes", "No", "n", "y", "a,b",
    "x [y] {z}", "a\\b", "ünicode ✓", "line one\nline two", "it's", "10.10", "6.10", "0",
]  # fmt: skip
TRICKY_STRINGS = [
    "", " ", " lead", "trail ", "1.0", "0x1f", "0o17", "017", "1:20", "2024-01-31", "null",
    "~", "a: b", "a #b", "#x", "- x", "-", "'q'", '"dq"', "trailing\n", "ends\n\n", "\n",
    "\ttab", "[x]", "{y}", "*alias", "&a", "!tag", "%p", "@at", "`bt`", "|", ">", ".inf",
    "-1", "+1", "1e5", "1_000", "true", "False", "=", "<<", "? q", "a\r\nb", "a\x85b",
    "a\u2028b", "\ufeffbom", "x" * 90, "long " * 30, "a\n  indented\nb", "  \nx", "x\n  \n",
]  # fmt: skip
NUMBERS: list[Any] = [0, 7, -3, 10**20, 1.5, -0.25, 3.0, True, False, None]
TRICKY_NUMBERS: list[Any] = [1e20, 2.5e-7, -0.0, 1e16, 123456789.123456789]


def typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type (so 1, 1.0 and True differ)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def check(text: str) -> bool:
    """Assert the fast reader agrees with the full pass; True if it handled ``text``."""
    fast = fast_load(text, yamlio._plain_tag)
    if fast is None:
        return False
    try:
        full = yamlio._load_full(text, 0)[0]
    except YamlProblem as problem:  # pragma: no cover - the failure being tested for
        pytest.fail(f"fast path accepted what the full pass refuses ({problem}): {text!r}")
    assert typed(fast) == typed(full), text
    assert list(fast) == list(full), text  # same key order
    return True


def data(rng: random.Random, depth: int, tricky: bool) -> Any:
    keys = PLAIN_KEYS + TRICKY_KEYS if tricky else PLAIN_KEYS
    strings = PLAIN_STRINGS + TRICKY_STRINGS if tricky else PLAIN_STRINGS
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        return {rng.choice(keys): data(rng, depth + 1, tricky) for _ in range(rng.randint(1, 4))}
    if depth < 4 and roll < 0.45:
        return [data(rng, depth + 1, tricky) for _ in range(rng.randint(1, 3))]
    if roll < 0.8:
        return rng.choice(strings)
    return rng.choice(NUMBERS + TRICKY_NUMBERS if tricky else NUMBERS)


def documents(seed: int, count: int, tricky: bool) -> list[str]:
    rng = random.Random(seed)
    keys = PLAIN_KEYS + TRICKY_KEYS if tricky else PLAIN_KEYS
    out = []
    for _ in range(count):
        doc = {rng.choice(keys): data(rng, 1, tricky) for _ in range(rng.randint(1, 6))}
        out.append(dump_yaml(doc))
    return out


@pytest.mark.parametrize("text", DOCUMENTS + [d + "\n" for d in DOCUMENTS])
def test_hand_written_documents(text: str) -> None:
    check(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1 # comment\n",
        "a:\n  - 1\n  - 2\n",
        "a:\n- b: 1\n  c: 2\n- d\n",
        "a:\n- - 1\n  - 2\n",
        "a: |+\n  x\n\nb: 1\n",
        "a: |2\n   x\n",
        "a: >\n  x\n  y\n",
        "a: |\n\n  x\n",
        "a: |\n  x\n\n  y\n\n\nb: 1\n",
        "a: |-\n  x\n   y\n",
        "a: |\n  x\n    \nb: 1\n",
        "a: |\n  x\n b: 1\n",
        "a: 'x''y'\n",
        "a: 'x' 'y'\n",
        "a: 'x\n  y'\n",
        'a: "x\\ty"\n',
        "a: plain\n  continued\n",
        "a:\n\n  b: 1\n",
        "a: 1\n\nb: 2\n",
        "a:  1\n",
        "a: \n",
        "a:\n",
        "a:\nb:\n",
        "a b : 1\n",
        "a: b:\n",
        "a: 1\n- 2\n",
        "- a: 1\n",
        "a:\n  b:\n    c:\n      d: 1\n  e: 2\n",
        "a:\n    b: 1\n  c: 2\n",
        "a: 1",
        "a: 1\r\n",
        "a: \x07\n",
        "a:\n- |\n  x\n",
        "k" * 1100 + ": 1\n",
        "a: " + "[" * 3 + "\n",
        "".join(f"{' ' * 2 * n}k{n}:\n" for n in range(70)) + " " * 140 + "v: 1\n",
        "".join(f"{' ' * 2 * n}- k{n}:\n" for n in range(70)) + " " * 140 + "v: 1\n",
        "a:\n" + "- " * 70 + "x\n",
        "a:\n- - - x\n    - y\n  - z\n",
        "a:\n- - a: 1\n    b: 2\n  - c\n",
        "a:\n- - |\n    x\n",
        "a:\n- k: |-\n    x\n  l: 2\n",
        "a:\n- |\n",
        "a: |\n  x\t\n",
        "a: |\n  x\n  \x07\n",
        "a: |\n  x\n\x85\n",
        "a:\n- 1\n  - 2\n",
        "a:\n  - 1\n- 2\n",
        "a:\n  b:\n  - 1\n  c: 2\n",
        "a:\n  b:\n  c: 2\n",
        "a:\nb:\n  - 1\n",
        "- 1\n",
    ],
)
def test_edge_cases(text: str) -> None:
    check(text)


def test_writer_output_takes_the_fast_path() -> None:
    for text in documents(seed=1, count=400, tricky=False):
        assert check(text), text


def test_writer_output_with_tricky_keys_and_strings() -> None:
    handled = sum(check(text) for text in documents(seed=2, count=600, tricky=True))
    assert handled > 0  # some take the fast path; the rest fall back, equal either way


def mutate(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    line = lines[i]
    pos = rng.randint(0, len(line))
    roll = rng.random()
    if roll < 0.4:
        piece = rng.choice([" ", "  ", ":", ": ", "-", "- ", "#", " #", "'", '"', "|", "\t", "x"])
        lines[i] = line[:pos] + piece + line[pos:]
    elif roll < 0.6:
        lines[i] = line[:pos] + line[pos + 1 :]
    elif roll < 0.75:
        lines.insert(i, line)
    elif roll < 0.9:
        lines[i] = line.lstrip(" ") if rng.random() < 0.5 else "  " + line
    else:
        del lines[i]
    return "\n".join(lines)


def test_mutated_writer_output_never_disagrees() -> None:
    rng = random.Random(3)
    texts = documents(seed=4, count=300, tricky=False) + documents(seed=5, count=100, tricky=True)
    handled = declined = 0
    for text in texts:
        for _ in range(8):
            text = mutate(rng, text)
            if check(text):
                handled += 1
            else:
                declined += 1
    assert handled and declined  # both sides of the fast path were exercised


def test_manifests_parse_the_same_with_and_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = KindRegistry.builtin()
    objects = [samples.product(), samples.category(), samples.category("root", None)]
    objects += [samples.collection(), samples.rule_collection()]
    texts = [
        (f"x/{m.name}.yaml", encode_manifest(m, schema=registry.schema_for(m)))
        for m in (Manifest.from_object(obj) for obj in objects)
    ]
    assert texts
    fast = [parse_manifest(raw, path) for path, raw in texts]
    assert all(fast_load(raw.decode(), yamlio._plain_tag) is not None for _, raw in texts)
    monkeypatch.setattr(yamlio, "fast_load", lambda text, resolve: None)
    slow = [parse_manifest(raw, path) for path, raw in texts]
    for a, b in zip(fast, slow, strict=True):
        assert typed(a.to_dict()) == typed(b.to_dict())
        assert dict(a.positions) == dict(b.positions)


def test_yaml_format_is_the_default_writer() -> None:
    assert ManifestFormat.YAML.value == "yaml"


SOUP_KEYS = ["a", "b", "c", "a b", "on", "1", "k.x"]
SOUP_VALUES = ["x", "x", "2", "1.5", "|", "|-", "'q'", "- y", "~", "a: b", "true", "", "'it''s'"]
SOUP_BLOCK = ["t", "", "u v", "- w", "k: v", "  deeper"]


def soup(rng: random.Random) -> str:
    """A text of lines in the writer's shapes, each at a random place: nested blocks, items,
    ``- key:`` and ``- - x`` items, block scalars, misplaced and unusual lines."""
    lines = []
    indent = 0
    for n in range(rng.randint(1, 12)):
        indent = 0 if n == 0 else max(0, indent + rng.choice([-4, -2, 0, 0, 2, 2, 1]))
        dash = rng.choice(["", "", "", "", "- ", "- ", "- - ", "-"])
        roll = rng.random()
        if roll < 0.75:
            body = rng.choice(SOUP_KEYS) + ":"
            if rng.random() < 0.7:
                body += " " + rng.choice(SOUP_VALUES)
        elif roll < 0.98:
            body = rng.choice(SOUP_VALUES)
        else:
            body = ""
        lines.append(" " * indent + dash + body)
        if body.endswith(("|", "|-")):
            for _ in range(rng.randint(0, 3)):
                pad = " " * (indent + rng.choice([0, 2, 2, 4, 4, 3]))
                lines.append(pad + rng.choice(SOUP_BLOCK))
    return "\n".join(lines) + "\n"


def test_line_soup_never_disagrees() -> None:
    """Writer-shaped lines at random places, read twice: the second reading takes the lines
    the first remembered, in other texts and other places."""
    rng = random.Random(6)
    texts = [soup(rng) for _ in range(6000)]
    for _ in range(2):
        handled = sum(check(text) for text in texts)
        assert 100 < handled < len(texts)


def test_remembered_lines_stay_bounded_and_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blockyaml, "_tables", {})
    monkeypatch.setattr(blockyaml, "_LINE_LIMIT", 7)
    monkeypatch.setattr(blockyaml, "_YOUNG_LIMIT", 5)
    monkeypatch.setattr(blockyaml, "_CACHE_LIMIT", 3)
    rng = random.Random(7)
    texts = [soup(rng) for _ in range(1500)] + documents(seed=8, count=200, tricky=False)
    texts += documents(seed=9, count=200, tricky=True)
    for _ in range(2):
        assert sum(check(text) for text in texts) > 200
        tables = blockyaml._tables[yamlio._plain_tag]
        assert len(tables.lines) <= 7 and len(tables.young) <= 5
        assert len(tables.heads) <= 3 and len(tables.keys) <= 3


def test_a_line_is_read_by_where_it_stands() -> None:
    """The same line text (remembered once seen) in a mapping, after a key, in an item."""
    texts = [
        "a:\n  b: 1\n  c: 2\n",
        "b: 1\nc: 2\n",
        "a:\n- b: 1\n  c: 2\n",
        "a:\n  - b: 1\n    c: 2\n",
        "a:\n  b: 1\n  c: 2\n- b: 1\n",
        "a:\n  - - b: 1\n      c: 2\n",
        "a:\n- - x\n  - y\n- z\n",
        "a:\n  b: 1\nb: 1\n  c: 2\n",
        "a:\n- |\n  b: 1\n  c: 2\n- x\n",
        "a: |-\n  b: 1\n\n  c: 2\nd: 3\n",
    ]
    for _ in range(3):
        for text in texts:
            check(text)
    assert fast_load("a:\n- - x\n  - y\n- z\n", yamlio._plain_tag) == {"a": [["x", "y"], "z"]}


def test_refused_characters_anywhere() -> None:
    """Characters are checked once per line text (a remembered line was checked when first
    read) and in block scalars: a refused one anywhere still declines, or reads as PyYAML."""
    rng = random.Random(10)
    texts = documents(seed=11, count=150, tricky=False) + [soup(rng) for _ in range(300)]
    texts += ["a: |\n  x\n  y\n\nb: 1\n", "a:\n- |\n  x\n  y\nb: |-\n  z\n"] * 20
    characters = ["\x07", "\r", "\x85", "\u2028", "\ufeff", "é", "\t", "\x00", "\ud800", "✓"]
    for text in texts:
        check(text)
        for _ in range(3):
            at = rng.randrange(len(text))
            changed = text[:at] + rng.choice(characters) + text[at:]
            for _ in range(2):  # fresh, then remembered
                check(changed)
