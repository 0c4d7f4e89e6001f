"""The prepare stage's fast paths give what the general code gives (issue 16, fourth round).

Each fast path answers only the common case and leaves everything else to the code it sits in
front of; these tests hold both to the same result on the inputs where they could part: the
envelope (``Manifest.from_object``) against its full pass (forced by a non-``dict`` mapping),
the one-currency and option shortcuts of the product rules against the rules as they were
written before them, served versions, the text rule's quick look and file extensions.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from gitstore.domain.content import KindRegistry
from gitstore.domain.content.errors import CURRENCY_MISMATCH, OPTION, ContentError
from gitstore.domain.content.formats import EXTENSIONS, format_for_path
from gitstore.domain.content.kinds import KindDefinition, KindNames, KindVersion
from gitstore.domain.content.manifest import Manifest, _plain_envelope
from gitstore.domain.content.text import _C1_UTF8, surely_clean_json
from gitstore.domain.content.validation import product_errors
from gitstore.domain.identity import dns_label_problem
from gitstore.domain.projection import document_indexes

from .samples import product

POSITIONS = {"metadata.labels": (5, 3), "kind": (2, 7), "": (1, 1)}


def _envelopes() -> list[Any]:
    base = product()
    cases: list[Any] = [base]

    def variant(change: Any) -> None:
        data = copy.deepcopy(base)
        change(data)
        cases.append(data)

    meta = "metadata"
    variant(lambda d: d[meta].pop("labels"))
    variant(lambda d: d[meta].pop("annotations"))
    variant(lambda d: d[meta].update(labels=None, annotations=None))
    variant(lambda d: d[meta].update(labels={}, annotations={}))
    variant(lambda d: d[meta].update(labels={"z": "1", "a": "2", "m": "3"}))
    variant(lambda d: d[meta].update(annotations={"z": "ü", "a": "", "b/c": "x y"}))
    variant(lambda d: d[meta].update(labels={"team": 3}))  # not a string
    variant(lambda d: d[meta].update(labels={"team": "two words"}))  # not a label value
    variant(lambda d: d[meta].update(labels={"-bad": "x"}))  # not a label key
    variant(lambda d: d[meta].update(annotations={"Bad.Prefix/k": "x"}))
    variant(lambda d: d[meta].update(labels={1: "x"}))  # a key YAML read as a number
    variant(lambda d: d[meta].update(labels=["team"]))
    variant(lambda d: d[meta].update(labels=""))
    variant(lambda d: d[meta].update(annotations=0))
    variant(lambda d: d[meta].update(name="Not-A-Label"))
    variant(lambda d: d[meta].update(name="-x"))
    variant(lambda d: d[meta].update(name=""))
    variant(lambda d: d[meta].update(name=7))
    variant(lambda d: d[meta].pop("name"))
    variant(lambda d: d[meta].update(extra="x"))
    variant(lambda d: d.update(metadata=["x"]))
    variant(lambda d: d.pop("metadata"))
    variant(lambda d: d.update(kind="product"))
    variant(lambda d: d.update(kind=None))
    variant(lambda d: d.pop("kind"))
    variant(lambda d: d.update(apiVersion="gitstore.dev/1"))
    variant(lambda d: d.update(apiVersion="v1"))
    variant(lambda d: d.update(apiVersion=1))
    variant(lambda d: d.pop("apiVersion"))
    variant(lambda d: d.update(spec=[]))
    variant(lambda d: d.update(spec=None))
    variant(lambda d: d.pop("spec"))
    variant(lambda d: d.update(status={}))
    variant(lambda d: d.update({1: "x"}))
    cases += [None, [], "text", {}]
    return cases


CASES = _envelopes()


def _outcome(data: Any) -> Any:
    try:
        m = Manifest.from_object(data, "products/x.yaml", POSITIONS)
    except Exception as err:  # ManifestError: compare its errors
        return type(err), getattr(err, "errors", str(err))
    # equality leaves out path and positions; dict equality leaves out order: compare them too
    return m, m.path, dict(m.positions), list(m.labels.items()), list(m.annotations.items())


@pytest.mark.parametrize("index", range(len(CASES)))
def test_the_envelope_fast_path_equals_the_full_pass(index: int) -> None:
    data = CASES[index]
    slow = MappingProxyType(data) if isinstance(data, dict) else data  # not a dict: full pass
    assert _outcome(data) == _outcome(slow)


def test_the_fast_path_takes_only_valid_envelopes() -> None:
    taken = {i for i, data in enumerate(CASES) if _plain_envelope(data) is not None}
    valid = {i for i, data in enumerate(CASES) if not isinstance(_outcome(data)[0], type)}
    # a label key YAML read as a number is valid (the full pass words it as a string) but
    # not plain: the full pass takes it
    assert taken == valid - {CASES.index(_with_labels({1: "x"}))}
    assert {0, 1, 2, 3, 4, 5, 6} <= taken  # the sample and its map variants


def _with_labels(labels: Any) -> dict[str, Any]:
    data = product()
    data["metadata"]["labels"] = labels
    return data


# ---------------------------------------------------------------------- product rules


def _reference_currencies(manifest: Manifest) -> list[ContentError]:
    """The currency rule as written before its one-currency shortcut."""
    errors: list[ContentError] = []
    spec = manifest.spec
    first: tuple[str, str] | None = None
    places: list[tuple[str, Any]] = [
        ("spec.price", spec.get("price")),
        ("spec.compareAtPrice", spec.get("compareAtPrice")),
    ]
    for i, v in enumerate(spec.get("variants", [])):
        places.append((f"spec.variants[{i}].price", v.get("price")))
        places.append((f"spec.variants[{i}].compareAtPrice", v.get("compareAtPrice")))
    for where, money in places:
        if not isinstance(money, Mapping):
            continue
        currency = money["currency"]
        if first is None:
            first = (currency, where)
        elif currency != first[0]:
            fld = f"{where}.currency"
            errors.append(
                manifest.error(
                    fld,
                    CURRENCY_MISMATCH,
                    f"{fld}: {currency} differs from {first[0]} used by {first[1]}; all prices "
                    "of one product use one currency",
                )
            )
    return errors


def _money(currency: str | None) -> dict[str, str] | None:
    return None if currency is None else {"amount": "1.00", "currency": currency}


CURRENCY_CHOICES = (None, "EUR", "USD")


@pytest.mark.parametrize("currencies", list(itertools.product(CURRENCY_CHOICES, repeat=4)), ids=str)
def test_the_currency_rule_reports_what_it_did_before(
    currencies: tuple[str | None, ...],
) -> None:
    data = product()
    spec = data["spec"]
    for key, currency in zip(("price", "compareAtPrice"), currencies[:2], strict=True):
        spec.pop(key, None)
        if currency is not None:
            spec[key] = _money(currency)
    # the variants' prices: the first variant's from the third choice, the last's compare-at
    # price from the fourth (the others keep EUR)
    spec["variants"][0]["price"] = _money(currencies[2] or "EUR")
    if currencies[3] is not None:
        spec["variants"][-1]["compareAtPrice"] = _money(currencies[3])
    m = Manifest.from_object(data, "products/x.yaml")
    found = [e for e in product_errors(m) if e.rule == CURRENCY_MISMATCH]
    assert found == _reference_currencies(m)
    assert (found == []) == (len({c for c in currencies if c} | {"EUR"}) == 1)


def test_the_currency_rule_words_money_written_as_another_mapping() -> None:
    data = product()
    data["spec"]["price"] = MappingProxyType({"amount": "1.00", "currency": "USD"})
    m = Manifest.from_object(data, "products/x.yaml")
    found = product_errors(m)
    assert found == _reference_currencies(m)
    assert found[0].field == "spec.compareAtPrice.currency"


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        ({"size": "S", "colour": "navy"}, []),
        (
            {"size": "S"},
            ["spec.variants[0].options: every variant sets every option; missing colour"],
        ),
        ({}, ["spec.variants[0].options: every variant sets every option; missing size, colour"]),
        (
            {"size": "S", "fit": "slim"},  # as many as declared, one of them undeclared
            [
                "spec.variants[0].options.fit: option 'fit' is not in spec.options (size, colour)",
                "spec.variants[0].options: every variant sets every option; missing colour",
            ],
        ),
        (
            {"size": "XL", "colour": "navy"},
            ["spec.variants[0].options.size: 'XL' is not a value of option 'size' (L, M, S)"],
        ),
    ],
)
def test_the_option_rule_still_names_missing_and_unknown_options(
    chosen: dict[str, str], expected: list[str]
) -> None:
    data = product()
    data["spec"]["variants"][0]["options"] = chosen
    m = Manifest.from_object(data, "products/x.yaml")
    assert [e.message for e in product_errors(m) if e.rule == OPTION] == expected


def test_the_same_combination_in_another_key_order_is_still_a_duplicate() -> None:
    data = product()
    variants = data["spec"]["variants"]
    first = variants[0]["options"]
    variants[1]["options"] = dict(reversed(list(first.items())))
    m = Manifest.from_object(data, "products/x.yaml")
    assert [e.message for e in product_errors(m)] == [
        "spec.variants[1].options: the same options as spec.variants[0]"
    ]


# ---------------------------------------------------------------------- served versions


def _reference_version(definition: KindDefinition, api_version: str) -> KindVersion | None:
    group, _, name = api_version.rpartition("/")
    if group != definition.group:
        return None
    return next((v for v in definition.versions if v.name == name and v.served), None)


def test_served_versions_are_found_as_before() -> None:
    def version(name: str, served: bool = True, storage: bool = False) -> KindVersion:
        return KindVersion(name, served, storage, {"type": "object"})

    definition = KindDefinition(
        "acme.example",
        KindNames("Widget", "widgets", "widget"),
        (
            version("v1", storage=True),
            version("v2", served=False),
            version("v3beta1"),
            version("v3beta1", served=False),  # a duplicate name: the first one answers
            version("a/v4"),  # never what rpartition gives
        ),
    )
    asked = [
        "acme.example/v1",
        "acme.example/v2",
        "acme.example/v3beta1",
        "acme.example/a/v4",
        "acme.example/v9",
        "other.example/v1",
        "acme.example",
        "v1",
        "",
        "/v1",
        "acme.example/",
    ]
    for api_version in asked:
        assert definition.version(api_version) is _reference_version(definition, api_version)
    builtin = KindRegistry.builtin()
    for kind in builtin.kinds():
        d = builtin.get(kind)
        for api_version in [*d.served_api_versions(), "gitstore.dev/v0", "x/v1"]:
            assert d.version(api_version) is _reference_version(d, api_version)


# ---------------------------------------------------------------------- small pieces


def _reference_clean(encoded: bytes) -> bool:
    return (
        b"\\u" not in encoded
        and b"\\b" not in encoded
        and b"\\f" not in encoded
        and b"\x7f" not in encoded
        and (encoded.isascii() or _C1_UTF8(encoded) is None)
    )


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'a "quoted" word',
        "back\\slash",
        "tab\tnew\nline",
        "\b",
        "\f",
        "\x01",
        "\x7f",
        "\x85",
        "é",
        "\u2028",
        "\\u0041 written out",
        "a\\b",
        "x\\fy",
    ],
)
def test_the_text_rules_quick_look_is_unchanged(text: str) -> None:
    for encoded in (
        json.dumps({"k": text}, ensure_ascii=False).encode(),
        json.dumps({text: 1}, ensure_ascii=False).encode(),
    ):
        assert surely_clean_json(encoded) is _reference_clean(encoded)


def _reference_format(path: str) -> Any:
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return EXTENSIONS.get(name[dot:]) if dot > 0 else None


def test_file_extensions_are_read_as_before() -> None:
    names = ["a.yaml", ".yaml", "a.", "a", "a.b.json", "a.md", "a.yml", ".a.yaml", "a.txt"]
    dirs = ["", "products/", "products/ab/", "x.yaml/", "./", "a.b/c/"]
    for d, n in itertools.product(dirs, names):
        assert format_for_path(d + n) is _reference_format(d + n), d + n


_DNS = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _reference_dns(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > 63:
        return f"must be at most 63 characters (got {len(value)})"
    if value.startswith("-") or value.endswith("-"):
        return "must not start or end with a hyphen"
    if not value.isascii() or not _DNS.fullmatch(value):
        return "may contain only lowercase letters a-z, digits 0-9 and hyphens"
    return None


@pytest.mark.parametrize(
    "value",
    ["a", "a-b", "0", "-a", "a-", "A", "a_b", "é", "a" * 63, "a" * 64, "", "a\n", "٣", "a--b"],
)
def test_dns_labels_are_judged_as_before(value: str) -> None:
    assert dns_label_problem(value) == _reference_dns(value)


def test_product_index_names_come_in_canonical_order() -> None:
    indexes = document_indexes("Product", "p", product()["spec"])
    assert list(indexes) == sorted(indexes)
    assert indexes["category-status"] == [f"{c}|active" for c in indexes["category"]]


# ---------------------------------------------------------------------- sixth round


def _name_of(data: Any) -> Any:
    meta = data.get("metadata") if isinstance(data, dict) else None
    return meta.get("name") if isinstance(meta, dict) else None


def _outcome_knowing(data: Any, known: str) -> Any:
    """``_outcome`` with ``known_name``."""
    try:
        m = Manifest.from_object(data, "products/x.yaml", POSITIONS, known_name=known)
    except Exception as err:
        return type(err), getattr(err, "errors", str(err))
    return m, m.path, dict(m.positions), list(m.labels.items()), list(m.annotations.items())


@pytest.mark.parametrize("index", range(len(CASES)))
def test_a_known_name_changes_no_envelope_outcome(index: int) -> None:
    """The worker passes the file name the plan checked; equal to a valid name, it skips the
    name's check and nothing else: every case gives what it gives without it, and a known
    name that differs from an invalid one does not let it through."""
    data = CASES[index]
    name = _name_of(data)
    if isinstance(name, str) and dns_label_problem(name) is None:
        assert _outcome_knowing(data, name) == _outcome(data)
    assert _outcome_knowing(data, "other-name") == _outcome(data)


def test_remembered_kinds_and_label_values_are_judged_as_before() -> None:
    """A kind or label value that matched once is a set lookup the next time: a bad one is
    never remembered, and a good one stays accepted."""
    for _ in range(2):  # the second round reads the remembered sets
        for labels in ({"team": "two words"}, {"team": "-x"}, {"team": "ok-1"}, {"t": ""}):
            assert _outcome(_with_labels(labels)) == _outcome(
                MappingProxyType(_with_labels(labels))
            )
        for kind in ("Product", "product", "Product_1", "P" * 64, "P" * 63):
            data = product()
            data["kind"] = kind
            assert _outcome(data) == _outcome(MappingProxyType(data))
    from gitstore.domain.content import manifest as envelope

    assert (
        "two words" not in envelope._GOOD_LABEL_VALUES and "-x" not in envelope._GOOD_LABEL_VALUES
    )
    assert "ok-1" in envelope._GOOD_LABEL_VALUES and "" in envelope._GOOD_LABEL_VALUES
    assert not {"product", "Product_1", "P" * 64} & envelope._GOOD_KINDS
    assert {"Product", "P" * 63} <= envelope._GOOD_KINDS


def test_every_dns_label_is_a_kv_name() -> None:
    """``encode_upsert(..., name_is_dns_label=True)`` skips ``validate_name``: sound only
    because every DNS label is a name it accepts (edges, and random labels)."""
    import random

    from gitstore.backends.kv import encode_upsert
    from gitstore.domain.keys import validate_name

    rng = random.Random(16)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    labels = ["a", "0", "a-b", "a" * 63, "0-0", "9" * 63]
    while len(labels) < 2000:
        label = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 63)))
        if dns_label_problem(label) is None:
            labels.append(label)
    for label in labels:
        assert validate_name(label) == label
        assert encode_upsert("product", label, {"a": 1}, name_is_dns_label=True) == encode_upsert(
            "product", label, {"a": 1}
        )
