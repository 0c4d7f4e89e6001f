"""Built-in kinds Product, Category, Collection: realistic manifests pass, bad fields are
reported with the exact JSON path, the JSON Schema keyword and a message naming the field."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from gitstore.domain.content import (
    ContentError,
    KindRegistry,
    ManifestError,
    parse_and_validate,
    price_currency_codes,
    validate_manifest,
)
from tests.domain import samples


def errors_of(data: dict[str, Any]) -> list[ContentError]:
    return validate_manifest(samples.manifest(data))


def one(data: dict[str, Any]) -> ContentError:
    errors = errors_of(data)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


@pytest.mark.parametrize(
    "make", [samples.product, samples.category, samples.collection, samples.rule_collection]
)
def test_realistic_manifests_are_valid(make: Any) -> None:
    assert errors_of(make()) == []


def test_minimal_product_is_valid() -> None:
    data = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": "p"},
        "spec": {"title": "P"},
    }
    assert errors_of(data) == []


def test_missing_title() -> None:
    data = samples.product()
    del data["spec"]["title"]
    error = one(data)
    assert (error.field, error.rule) == ("spec.title", "required")
    assert error.message == "spec.title is required"


@pytest.mark.parametrize("amount", ["-5", "-0.01", "1e3", "19,99", "19.99999", "01.00", " 5", ""])
def test_invalid_amounts(amount: str) -> None:
    data = samples.product()
    data["spec"]["price"]["amount"] = amount
    error = one(data)
    assert (error.field, error.rule) == ("spec.price.amount", "pattern")
    assert error.message.startswith(
        f"spec.price.amount: {amount!r} is not a valid non-negative decimal amount"
    )


def test_amount_with_trailing_newline_is_refused() -> None:
    # Python's "$" would match before the newline; GitStore patterns mean end of string
    data = samples.product()
    data["spec"]["price"]["amount"] = "19.99\n"
    assert one(data).rule == "pattern"


def test_amount_as_a_number_is_a_type_error() -> None:
    data = samples.product()
    data["spec"]["variants"][1]["price"]["amount"] = 19.99
    error = one(data)
    assert (error.field, error.rule) == ("spec.variants[1].price.amount", "type")
    assert "expected a string, got a number (19.99)" in error.message


@pytest.mark.parametrize("currency", ["EURO", "usd", "XXX", "XTS", "XAU", "CHE", "HRK", "US"])
def test_invalid_currencies(currency: str) -> None:
    data = samples.product()
    data["spec"]["compareAtPrice"]["currency"] = currency
    errors = errors_of(data)
    assert [(e.field, e.rule) for e in errors] == [("spec.compareAtPrice.currency", "enum")]
    assert f"{currency!r} is not an ISO 4217 currency code" in errors[0].message


def test_currency_enum_matches_the_iso_list() -> None:
    registry = KindRegistry.builtin()
    schema = registry.get("Product").hub.schema
    assert schema["$defs"]["currency"]["enum"] == list(price_currency_codes())
    for code in ("EUR", "USD", "JPY", "GBP", "CHF", "KWD", "XOF", "XCG", "ZWG"):
        assert code in price_currency_codes()
    raw = resources.files("gitstore.domain.content").joinpath("builtin/iso4217.json")
    rows = json.loads(raw.read_text())["currencies"]
    assert len({r["code"] for r in rows}) == len(rows) > 170


def test_unknown_field_is_refused_at_every_level() -> None:
    data = samples.product()
    data["spec"]["colour"] = "navy"
    data["spec"]["variants"][0]["colour"] = "navy"
    data["spec"]["seo"]["keywords"] = "x"
    errors = errors_of(data)
    assert [(e.field, e.rule) for e in errors] == [
        ("spec.colour", "additionalProperties"),
        ("spec.variants[0].colour", "additionalProperties"),
        ("spec.seo.keywords", "additionalProperties"),
    ]
    assert errors[0].message.startswith("spec.colour: unknown field of Product (allowed here:")
    assert "allowed here: title, description" in errors[2].message


def test_bad_status() -> None:
    data = samples.product()
    data["spec"]["status"] = "published"
    error = one(data)
    assert (error.field, error.rule) == ("spec.status", "enum")
    assert error.message == "spec.status: 'published' is not one of draft, active, archived"


def test_variant_with_negative_inventory() -> None:
    data = samples.product()
    data["spec"]["variants"][2]["inventoryQuantity"] = -1
    error = one(data)
    assert (error.field, error.rule) == ("spec.variants[2].inventoryQuantity", "minimum")
    assert (
        error.message == "spec.variants[2].inventoryQuantity: -1 is too small: must be at least 0"
    )


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (lambda s: s.update(title=""), "spec.title", "minLength"),
        (lambda s: s.update(title="t" * 256), "spec.title", "maxLength"),
        (lambda s: s.update(handle="Blue Shirt"), "spec.handle", "pattern"),
        (lambda s: s.update(sku="has space"), "spec.sku", "pattern"),
        (
            lambda s: s["variants"][0].update(inventoryPolicy="oversell"),
            "spec.variants[0].inventoryPolicy",
            "enum",
        ),
        (
            lambda s: s["variants"][0].update(inventoryQuantity=1.5),
            "spec.variants[0].inventoryQuantity",
            "type",
        ),
        (lambda s: s["variants"][0].pop("sku"), "spec.variants[0].sku", "required"),
        (
            lambda s: s["variants"][0]["weight"].update(unit="stone"),
            "spec.variants[0].weight.unit",
            "enum",
        ),
        (lambda s: s["media"][0].update(type="audio"), "spec.media[0].type", "enum"),
        (lambda s: s["media"][1].update(url="../../etc/passwd"), "spec.media[1].url", "pattern"),
        (lambda s: s["media"][1].update(url="/abs/path.jpg"), "spec.media[1].url", "pattern"),
        (lambda s: s.update(categories=["Bad Name"]), "spec.categories[0]", "pattern"),
        (lambda s: s.update(tags=["a", "b", "a"]), "spec.tags[2]", "uniqueItems"),
        (lambda s: s["attributes"].update(nested={"a": 1}), "spec.attributes.nested", "type"),
        (
            lambda s: s["attributes"].update({"bad/key": "x"}),
            'spec.attributes["bad/key"]',
            "propertyNames",
        ),
        (lambda s: s["price"].pop("currency"), "spec.price.currency", "required"),
        (lambda s: s["options"][0].update(values=[]), "spec.options[0].values", "minItems"),
    ],
)
def test_product_field_errors(mutate: Any, field: str, rule: str) -> None:
    data = samples.product()
    mutate(data["spec"])
    error = one(data)
    assert (error.field, error.rule) == (field, rule), error.message
    assert error.message.startswith(field)


def test_errors_carry_file_line_and_column() -> None:
    text = """\
apiVersion: gitstore.dev/v1
kind: Product
metadata:
  name: tee
spec:
  title: Tee
  variants:
    - sku: TEE-S
    - sku: TEE-M
      price:
        amount: "-5"
        currency: EUR
"""
    with pytest.raises(ManifestError) as excinfo:
        parse_and_validate(text, "products/tee.yaml")
    (error,) = excinfo.value.errors
    assert (error.path, error.field, error.rule) == (
        "products/tee.yaml",
        "spec.variants[1].price.amount",
        "pattern",
    )
    assert (error.line, error.column) == (11, 9)
    assert str(error).startswith("products/tee.yaml:11:9: spec.variants[1].price.amount: '-5'")


def test_product_semantics() -> None:
    data = samples.product()
    spec = data["spec"]
    spec["variants"][0]["price"]["currency"] = "USD"
    spec["variants"][1]["options"] = {"size": "XL", "colour": "navy"}
    spec["variants"][2]["options"] = {"size": "S", "colour": "navy", "fit": "slim"}
    spec["variants"][2]["sku"] = "NW-MCS-S-NAVY"
    spec["options"].append({"name": "size", "values": ["XS"]})
    found = [(e.field, e.rule) for e in errors_of(data)]
    assert found == [
        ("spec.variants[0].price.currency", "currency-mismatch"),
        ("spec.options[2].name", "unique"),
        ("spec.variants[1].options.size", "option"),
        ("spec.variants[2].sku", "unique"),
        ("spec.variants[2].options.fit", "option"),
    ]


def test_variant_missing_an_option_and_duplicate_combination() -> None:
    data = samples.product()
    variants = data["spec"]["variants"]
    variants[1]["options"] = {"size": "S", "colour": "navy"}  # same as variants[0]
    variants[2]["options"] = {"size": "L"}
    found = [(e.field, e.rule) for e in errors_of(data)]
    assert found == [("spec.variants[1].options", "unique"), ("spec.variants[2].options", "option")]


def test_category() -> None:
    data = samples.category()
    data["spec"]["parent"] = "Not_Valid"
    data["spec"]["sortOrder"] = -1
    del data["spec"]["title"]
    found = [(e.field, e.rule) for e in errors_of(data)]
    assert found == [
        ("spec.title", "required"),
        ("spec.parent", "pattern"),
        ("spec.sortOrder", "minimum"),
    ]


def test_collection_needs_exactly_one_of_products_or_rules() -> None:
    both = samples.collection()
    both["spec"]["rules"] = samples.rule_collection()["spec"]["rules"]
    error = one(both)
    assert (error.field, error.rule) == ("spec", "oneOf")
    assert error.message == (
        "spec must set exactly one of products (a fixed list of product names) or rules "
        "(conditions that select products)"
    )
    neither = samples.collection()
    del neither["spec"]["products"]
    assert one(neither).rule == "oneOf"


@pytest.mark.parametrize(
    ("rule", "field", "keyword"),
    [
        ({"field": "title", "relation": "greaterThan", "condition": "a"}, "relation", "enum"),
        ({"field": "price", "relation": "startsWith", "condition": "1"}, "relation", "enum"),
        ({"field": "price", "relation": "lessThan", "condition": "-1"}, "condition", "pattern"),
        ({"field": "status", "relation": "equals", "condition": "live"}, "condition", "enum"),
        ({"field": "colour", "relation": "equals", "condition": "red"}, "field", "enum"),
        ({"field": "tag", "relation": "equals"}, "condition", "required"),
    ],
)
def test_collection_rules(rule: dict[str, str], field: str, keyword: str) -> None:
    data = samples.rule_collection()
    data["spec"]["rules"] = [rule]
    error = one(data)
    assert (error.field, error.rule) == (f"spec.rules[0].{field}", keyword), error.message


def test_applied_disjunctively_needs_rules() -> None:
    data = samples.collection()
    data["spec"]["appliedDisjunctively"] = True
    error = one(data)
    assert (error.field, error.rule) == ("spec.appliedDisjunctively", "dependentRequired")
    assert "requires rules" in error.message


def test_unknown_kind_and_version() -> None:
    data = samples.product()
    data["apiVersion"] = "gitstore.dev/v9"
    error = one(data)
    assert (error.field, error.rule) == ("apiVersion", "unknown-version")
    assert "served: gitstore.dev/v1" in error.message
    data["kind"] = "Widget"
    error = one(data)
    assert (error.field, error.rule) == ("kind", "unknown-kind")
    assert "Category, Collection, KindDefinition, Product" in error.message


def test_ten_megabyte_description_through_parse_and_validate() -> None:
    data = samples.product()
    raw = json.dumps(data).replace('"Soft', '"' + "x" * (10 << 20)).encode()
    with pytest.raises(ManifestError) as excinfo:
        parse_and_validate(raw, "products/merino-crew-sweater.json")
    assert excinfo.value.rules == ["too-large"]
    assert "1 MiB" in str(excinfo.value)


def test_each_missing_required_field_is_reported_once() -> None:
    data = samples.product()
    data["spec"]["price"] = {}
    found = [(e.field, e.rule) for e in errors_of(data)]
    assert found == [("spec.price.amount", "required"), ("spec.price.currency", "required")]


def test_a_property_named_like_a_keyword_is_not_confused_with_it() -> None:
    from gitstore.domain.content import Manifest, kind_definition_from_manifest

    kind = kind_definition_from_manifest(
        Manifest.from_object(
            {
                "apiVersion": "gitstore.dev/v1",
                "kind": "KindDefinition",
                "metadata": {"name": "odds"},
                "spec": {
                    "group": "acme.example",
                    "names": {"kind": "Odd", "plural": "odds", "singular": "odd"},
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "schema": {
                                "type": "object",
                                "properties": {"propertyNames": {"type": "string"}},
                            },
                        }
                    ],
                },
            }
        )
    )
    registry = KindRegistry.builtin()
    registry.register(kind)
    odd = {"apiVersion": "acme.example/v1", "kind": "Odd", "metadata": {"name": "o"}}
    errors = validate_manifest(samples.manifest({**odd, "spec": {"propertyNames": 1}}), registry)
    assert [(e.field, e.rule) for e in errors] == [("spec.propertyNames", "type")]
