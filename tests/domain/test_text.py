"""The text rule of manifests (domain/content/text.py): which characters strings may hold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gitstore.backends.kv import encode_body
from gitstore.domain.content import Manifest, ManifestFormat, parse_manifest, validate_manifest
from gitstore.domain.content.text import (
    bad_character,
    surely_clean,
    surely_clean_json,
    text_errors,
)


def product(spec: dict[str, Any], **metadata: Any) -> Manifest:
    return Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "Product",
            "metadata": {"name": "p", **metadata},
            "spec": {"title": "t", "price": {"amount": "1.00", "currency": "EUR"}, **spec},
        }
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("plain", None),
        ("tab\tnew\nline\rcr", None),
        ("émoji 🎉 and ünïcode", None),
        ("\x00", (0, "control character U+0000")),
        ("ab\x08", (2, "control character U+0008")),
        ("\x0b", (0, "control character U+000B")),
        ("\x1f", (0, "control character U+001F")),
        ("\x7f", (0, "control character U+007F")),
        ("x\x85", (1, "control character U+0085")),
        ("\x9f", (0, "control character U+009F")),
        ("a\ud800", (1, "lone surrogate U+D800")),
        ("\udfff", (0, "lone surrogate U+DFFF")),
    ],
)
def test_bad_character(text: str, found: tuple[int, str] | None) -> None:
    assert bad_character(text) == found


def test_every_string_and_key_is_checked_with_its_path() -> None:
    manifest = product(
        {
            "description": "ok\n",
            "tags": ["fine", "b\x00d"],
            "attributes": {"we\x01rd": "x", "size": "\x02"},
            "variants": [{"sku": "a", "title": "\x1b"}],
        },
        annotations={"note": "x\x7f"},
    )
    assert [(e.field, e.rule) for e in text_errors(manifest)] == [
        ("spec.tags[1]", "invalid-character"),
        ('spec.attributes["we\\u0001rd"]', "invalid-character"),
        ("spec.attributes.size", "invalid-character"),
        ("spec.variants[0].title", "invalid-character"),
        ('metadata.annotations["note"]', "invalid-character"),
    ]


def test_validation_reports_text_errors_for_every_kind() -> None:
    errors = validate_manifest(product({"title": "a\x00"}))
    assert [(e.field, e.rule) for e in errors] == [("spec.title", "invalid-character")]
    assert errors[0].message == (
        "spec.title: control character U+0000 at position 1 is not allowed (tab, newline and"
        " carriage return are the only control characters allowed in text)"
    )


def test_deep_input_is_walked_without_recursion() -> None:
    value: Any = "\x00"
    for _ in range(5000):
        value = [value]
    errors = text_errors(product({"attributes": {"deep": value}}))
    assert len(errors) == 1 and errors[0].field.endswith("[0][0]")


def test_at_most_twenty_problems_are_reported() -> None:
    errors = text_errors(product({"tags": ["\x00"] * 100}))
    assert len(errors) == 20


@pytest.mark.parametrize(
    ("raw", "line", "column"),
    [
        (b"apiVersion: gitstore.dev/v1\nkind: Pro\x00duct\n", 2, 10),
        (b"a: 1\n# \x1b comment\n", 2, 3),
        (b"\x01", 1, 1),
    ],
)
def test_raw_control_characters_in_yaml_are_a_syntax_error(
    raw: bytes, line: int, column: int
) -> None:
    with pytest.raises(Exception) as caught:
        parse_manifest(raw, fmt=ManifestFormat.YAML)
    (error,) = caught.value.errors  # type: ignore[attr-defined]
    assert (error.rule, error.line, error.column) == ("yaml-syntax", line, column)
    assert "is not allowed in YAML text" in error.message


REFUSED = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]
REFUSED += ["\ud800", "\udbff", "\udc00", "\udfff"]


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_the_quick_look_never_calls_a_refused_character_clean(char: str) -> None:
    for value in ({"title": f"a{char}b"}, {f"k{char}": "v"}, {"x": [{"y": [char]}]}):
        assert not surely_clean({}, {}, value), (char, value)
        assert not surely_clean({"note": value}, {}, {}), (char, value)


def test_the_quick_look_passes_clean_text_and_declines_what_json_cannot_write() -> None:
    clean = {"title": "Tab\there\r\nnext line é ✓ \u2028", "n": [1, 2.5, True, None]}
    assert surely_clean({"a": "b"}, {"team": "x"}, clean)
    assert not surely_clean({}, {}, {"path": "C:\\bin"})  # a literal backslash: look closer
    assert not surely_clean({}, {}, {"when": object()})


def _body(value: Any) -> bytes | None:
    """The worker's document body of ``value`` (orjson where exact, else json), or None."""
    try:
        return encode_body({"apiVersion": "gitstore.dev/v1", "spec": value})
    except (TypeError, ValueError):
        return None


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_the_quick_look_on_the_body_never_calls_a_refused_character_clean(char: str) -> None:
    for value in ({"title": f"a{char}b"}, {f"k{char}": "v"}, {"x": [{"y": [char]}]}):
        body = _body(value)
        if body is None:  # a lone surrogate cannot be encoded: the rule looks itself
            assert "\ud800" <= char <= "\udfff"
            continue
        assert not surely_clean_json(body), (char, body)
        assert not surely_clean_json(json.dumps(value, ensure_ascii=False).encode())


def test_the_quick_look_on_the_body_passes_clean_text() -> None:
    clean = {"title": "Tab\there\r\nnext line é ✓ \u2028 \xa0", "n": [1, 2.5, True, None]}
    body = _body(clean)
    assert body is not None and surely_clean_json(body)
    assert not surely_clean_json(b'{"path":"C:\\\\bin"}')  # a literal backslash: look closer


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
def test_validation_with_the_body_reports_the_same_errors(char: str) -> None:
    manifest = product(
        {"tags": ["fine", f"b{char}d"], "attributes": {f"w{char}": "x"}},
        annotations={"note": f"x{char}"},
    )
    body = _body({"spec": manifest.spec, "annotations": dict(manifest.annotations)})
    expected = validate_manifest(manifest)
    assert expected and validate_manifest(manifest, encoded=body) == expected
