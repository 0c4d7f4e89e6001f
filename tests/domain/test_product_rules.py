"""The product rules beyond the schema (validation.product_errors): fields and wording.

Field paths are worded only for an error (issue 16); these pin every message, so that
cheaper bookkeeping never changes what an author reads.
"""

from __future__ import annotations

from typing import Any

from gitstore.domain.content import Manifest
from gitstore.domain.content.validation import product_errors


def money(currency: str) -> dict[str, str]:
    return {"amount": "1.00", "currency": currency}


def errors(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    manifest = Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "Product",
            "metadata": {"name": "p"},
            "spec": {"title": "t", **spec},
        }
    )
    return [(e.field, e.rule, e.message) for e in product_errors(manifest)]


def test_every_rule_names_its_field_and_the_first_use() -> None:
    spec = {
        "sku": "A",
        "price": money("EUR"),
        "options": [{"name": "size", "values": ["S", "M"]}, {"name": "color", "values": ["red"]}],
        "variants": [
            {"sku": "B", "options": {"size": "S", "color": "red"}, "price": money("USD")},
            {"sku": "A", "options": {"size": "S", "color": "red"}, "compareAtPrice": money("GBP")},
            {"sku": "B", "options": {"size": "M"}, "price": money("EUR")},
            {"sku": "C", "options": {"size": "L", "color": "red", "fit": "x"}},
        ],
    }
    assert errors(spec) == [
        (
            "spec.variants[0].price.currency",
            "currency-mismatch",
            "spec.variants[0].price.currency: USD differs from EUR used by spec.price; "
            "all prices of one product use one currency",
        ),
        (
            "spec.variants[1].compareAtPrice.currency",
            "currency-mismatch",
            "spec.variants[1].compareAtPrice.currency: GBP differs from EUR used by spec.price; "
            "all prices of one product use one currency",
        ),
        (
            "spec.variants[1].sku",
            "unique",
            "spec.variants[1].sku: SKU 'A' is also used by spec.sku",
        ),
        (
            "spec.variants[1].options",
            "unique",
            "spec.variants[1].options: the same options as spec.variants[0]",
        ),
        (
            "spec.variants[2].sku",
            "unique",
            "spec.variants[2].sku: SKU 'B' is also used by spec.variants[0].sku",
        ),
        (
            "spec.variants[2].options",
            "option",
            "spec.variants[2].options: every variant sets every option; missing color",
        ),
        (
            "spec.variants[3].options.size",
            "option",
            "spec.variants[3].options.size: 'L' is not a value of option 'size' (M, S)",
        ),
        (
            "spec.variants[3].options.fit",
            "option",
            "spec.variants[3].options.fit: option 'fit' is not in spec.options (size, color)",
        ),
    ]


def test_a_variant_price_can_be_the_first_currency() -> None:
    spec = {
        "variants": [
            {"sku": "a", "compareAtPrice": money("EUR")},
            {"sku": "b", "price": money("EUR"), "compareAtPrice": money("USD")},
        ]
    }
    assert errors(spec) == [
        (
            "spec.variants[1].compareAtPrice.currency",
            "currency-mismatch",
            "spec.variants[1].compareAtPrice.currency: USD differs from EUR used by "
            "spec.variants[0].compareAtPrice; all prices of one product use one currency",
        )
    ]


def test_a_valid_product_has_no_errors() -> None:
    spec = {
        "sku": "A",
        "price": money("EUR"),
        "options": [{"name": "size", "values": ["S", "M"]}],
        "variants": [
            {"sku": "A-S", "options": {"size": "S"}, "price": money("EUR")},
            {"sku": "A-M", "options": {"size": "M"}, "compareAtPrice": money("EUR")},
        ],
    }
    assert errors(spec) == []
