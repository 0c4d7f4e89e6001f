"""The lean YAML pass and lazy positions give exactly what the full pass gives.

``load_yaml(..., lazy_positions=True)`` builds data without field paths and defers positions
to a second, full parse on first use; the fast resolver skips path-resolver bookkeeping.
These compare both passes (data, error rule/message/line/column, positions) on valid and
malformed documents, with libyaml and with the pure-Python loader, and the fast resolver with
PyYAML's own on many plain scalars.
"""

from __future__ import annotations

import pytest
import yaml
from yaml.resolver import BaseResolver

from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestError,
    ManifestFormat,
    encode_manifest,
    validate_manifest,
    yamlio,
)
from gitstore.domain.content.formats import parse_manifest
from gitstore.domain.content.yamlio import LazyPositions, YamlProblem, load_yaml
from tests.domain import samples
from tests.servers import missing

DOCUMENTS = [
    "",
    "# only a comment\n",
    "a: 1\n",
    "a: [1, 2.5, -3, 0x1f, 0o17, 1_000, 1:20, .5, 1e3, 1.0e+3]\n",
    "a: [true, false, True, FALSE, yes, no, on, off, y, n, Yes, NO]\n",
    "a: [null, ~, Null, '', \"\", '1', 2024-05-01, 2024-05-01T10:00:00Z]\n",
    "a: [=, <<x, +1, -.inf_no, .Inf_x, !str 1]\n",
    "a: {b: {c: {d: [1, {e: f}]}}}\n",
    "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n",
    "'quoted key': 1\n\"other key\": 2\nplain key: 3\n",
    "a: -.inf\n",
    "a: .NaN\n",
    "a: &x 1\nb: *x\n",
    "a: &x [1, 2]\nb: *x\n",
    "a: {<<: {b: 1}}\n",
    "1: one\n",
    "null: x\n",
    "[1, 2]: x\n",
    "a: 1\na: 2\n",
    "a: !!binary aGVsbG8=\n",
    "a: !!set {x, y}\n",
    "a: !!omap [{x: 1}]\n",
    "a: !custom 1\n",
    "a: !!str 1\nb: !!int '7'\nc: !!float '2'\n",
    "a: 1\n---\nb: 2\n",
    "a: [unclosed\n",
    "a: 1\n  b: 2\n",
    "a:" + " [" * 70 + " 1" + " ]" * 70 + "\n",
    "a:" + " [" * 64 + " 1" + " ]" * 64 + "\n",
    "- 1\n- 2\n",
    "just a string\n",
]


def full(text: str, offset: int = 0) -> tuple[object, dict[str, tuple[int, int]]] | YamlProblem:
    try:
        data, positions = load_yaml(text, offset)
    except YamlProblem as problem:
        return problem
    assert isinstance(positions, dict)
    return data, positions


def lean(text: str, offset: int = 0) -> tuple[object, dict[str, tuple[int, int]]] | YamlProblem:
    try:
        data, positions = load_yaml(text, offset, lazy_positions=True)
    except YamlProblem as problem:
        return problem
    return data, dict(positions)


def same(a: object, b: object) -> None:
    if isinstance(a, YamlProblem) or isinstance(b, YamlProblem):
        assert isinstance(a, YamlProblem) and isinstance(b, YamlProblem), (a, b)
        assert (a.rule, a.message, a.line, a.column) == (b.rule, b.message, b.line, b.column)
    else:
        assert a == b
        assert repr(a) == repr(b)  # same types too (1 vs 1.0 vs True)


@pytest.fixture(params=["libyaml", "pure-python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "pure-python":
        monkeypatch.setattr(yamlio, "_Loader", yamlio._PyLoader)
    elif not getattr(yaml, "__with_libyaml__", False):
        missing("libyaml is not installed (PyYAML without its C extension)")
    return str(request.param)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_lean_pass_equals_full_pass(loader: str, text: str) -> None:
    same(lean(text), full(text))
    same(lean(text, 3), full(text, 3))


def test_sample_manifests_in_every_format(loader: str) -> None:
    for data in (samples.product(), samples.category(), samples.collection()):
        manifest = samples.manifest(data)
        for fmt in (ManifestFormat.YAML, ManifestFormat.MARKDOWN):
            raw = encode_manifest(manifest, fmt).decode()
            text = raw.split("---\n")[1] if fmt is ManifestFormat.MARKDOWN else raw
            same(lean(text), full(text))
            parsed = parse_manifest(raw, f"products/x{fmt.extension}")
            assert parsed == manifest
            assert isinstance(parsed.positions, LazyPositions)


def test_lazy_positions_are_read_only_when_needed() -> None:
    text = encode_manifest(samples.manifest(samples.product())).decode()
    data, positions = load_yaml(text, lazy_positions=True)
    assert isinstance(positions, LazyPositions)
    assert positions._found is None  # nothing parsed for positions yet
    positions["spec.extra"] = (99, 1)
    assert positions["spec.title"] == full(text)[1]["spec.title"]  # type: ignore[index]
    assert positions["spec.extra"] == (99, 1)
    assert dict(positions) == {**full(text)[1], "spec.extra": (99, 1)}  # type: ignore[dict-item]
    assert data == full(text)[0]  # type: ignore[index]


def test_a_valid_manifest_never_computes_positions() -> None:
    for fmt, path in (
        (ManifestFormat.YAML, "products/x.yaml"),
        (ManifestFormat.MARKDOWN, "products/x.md"),
    ):
        raw = encode_manifest(samples.manifest(samples.product()), fmt)
        manifest = parse_manifest(raw, path.replace("x", "merino-crew-sweater"))
        assert validate_manifest(manifest, KindRegistry.builtin()) == []
        assert isinstance(manifest.positions, LazyPositions)
        assert manifest.positions._found is None


def test_markdown_description_position_survives_laziness() -> None:
    manifest = samples.manifest(samples.collection())
    raw = encode_manifest(manifest, ManifestFormat.MARKDOWN)
    parsed = parse_manifest(raw, "collections/autumn-essentials.md")
    line = raw.decode().split("\n").index("Hand-picked for colder days.") + 1
    assert parsed.position("spec.description") == (line, 1)
    assert parsed.position("spec.title") is not None


def test_errors_after_a_lean_parse_carry_lines() -> None:
    data = samples.product()
    data["spec"]["price"]["amount"] = "-5"
    raw = encode_manifest(samples.manifest(data))
    manifest = parse_manifest(raw, "products/merino-crew-sweater.yaml")
    line = next(
        i for i, text in enumerate(raw.decode().split("\n"), 1) if text.strip() == "amount: '-5'"
    )
    assert manifest.position("spec.price.amount") == (line, 5)


def test_envelope_errors_after_a_lean_parse_carry_lines() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(
            "apiVersion: gitstore.dev/v1\nkind: Product\nmetadata: {name: a}\nspec: []\n", "a.yaml"
        )
    [error] = info.value.errors
    assert (error.field, error.line) == ("spec", 4)


SCALARS = [
    "", "~", "null", "Null", "NULL", "nul", "true", "True", "TRUE", "tRue", "false", "yes",
    "no", "on", "off", "0", "-0", "+1", "012", "0x1F", "0o17", "0b101", "1_000", "1:20",
    "190:20:30", ".5", "1.", "1.0", "-1.5e+3", "1e3", "6.8523015e+5", ".inf", "-.Inf",
    ".NAN", "2024-05-01", "2024-05-01 10:00:00", "=", "<<", "!x", "&x", "*x", "-", "+",
    "SKU-1", "EUR", "49.90", "1.0.0", "0.", "x", "Y", "n", "N", "é", "1e", "0x", "_1",
]  # fmt: skip


class _ReferenceLoader(yaml.SafeLoader):
    """PyYAML's own resolver with the manifest rules' resolver table."""


yamlio._configure(_ReferenceLoader)


@pytest.mark.parametrize("scalar", SCALARS)
def test_fast_resolver_tags_like_pyyaml(scalar: str) -> None:
    ours = yamlio._Loader("")
    try:
        for implicit in ((True, False), (False, True), (False, False)):
            expected = BaseResolver.resolve(_ReferenceLoader(""), yaml.ScalarNode, scalar, implicit)
            assert ours.resolve(yaml.ScalarNode, scalar, implicit) == expected
    finally:
        ours.dispose()
    text = f"a: {scalar}\n" if scalar else "a:\n"
    try:
        reference = yaml.load(text, Loader=_ReferenceLoader)
    except yaml.YAMLError:
        reference = None
    got = full(text)
    if reference is not None and not isinstance(got, YamlProblem):
        assert repr(got[0]) == repr(reference)
    same(lean(text), got)


def test_manifest_type_is_unchanged() -> None:
    manifest = parse_manifest(encode_manifest(samples.manifest(samples.product())), "p.yaml")
    assert isinstance(manifest, Manifest)
