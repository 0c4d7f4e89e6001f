"""Rule-based collections: ``domain.content.rules`` field by field, relation by relation."""

from __future__ import annotations

from typing import Any

import pytest

from gitstore.domain.content import KindRegistry
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.rules import (
    NUMERIC_FIELDS,
    NUMERIC_RELATIONS,
    TEXT_FIELDS,
    TEXT_RELATIONS,
    Rule,
    RuleSet,
    matches,
    matching_collections,
    numeric_values,
    rule_set,
    text_values,
)
from gitstore.domain.content.validation import validate_manifest


def money(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


SHIRT: dict[str, Any] = {
    "title": "Blue Linen Shirt",
    "handle": "blue-linen-shirt",
    "status": "active",
    "vendor": "Acme Mills",
    "productType": "Shirts",
    "sku": "SHIRT-1",
    "price": money("49.90"),
    "compareAtPrice": money("60"),
    "tags": ["Summer", "linen"],
    "categories": ["shirts", "apparel"],
    "variants": [
        {"sku": "SHIRT-1-S", "inventoryQuantity": 3},
        {"sku": "SHIRT-1-XXL", "price": money("54.90"), "inventoryQuantity": 4},
        {"sku": "SHIRT-1-M"},
    ],
}
BARE: dict[str, Any] = {"title": "Bare"}


def one(field: str, relation: str, condition: str, *, disjunctive: bool = False) -> Any:
    spec: dict[str, Any] = {
        "title": "c",
        "rules": [{"field": field, "relation": relation, "condition": condition}],
    }
    if disjunctive:
        spec["appliedDisjunctively"] = True
    return spec


def check(field: str, relation: str, condition: str, product: Any = SHIRT, name: str = "n") -> bool:
    return matches(one(field, relation, condition), product, name)


# ---------------------------------------------------------------------- values per field


def test_text_values_per_field() -> None:
    assert text_values("title", SHIRT) == ["Blue Linen Shirt"]
    assert text_values("handle", SHIRT, "ignored") == ["blue-linen-shirt"]
    assert text_values("handle", BARE, "bare-name") == ["bare-name"]
    assert text_values("handle", BARE) == []
    assert text_values("vendor", SHIRT) == ["Acme Mills"]
    assert text_values("vendor", BARE) == []
    assert text_values("productType", SHIRT) == ["Shirts"]
    assert text_values("tag", SHIRT) == ["Summer", "linen"]
    assert text_values("category", SHIRT) == ["shirts", "apparel"]
    assert text_values("status", SHIRT) == ["active"]
    assert text_values("status", BARE) == ["draft"]
    assert text_values("sku", SHIRT) == ["SHIRT-1", "SHIRT-1-S", "SHIRT-1-XXL", "SHIRT-1-M"]
    assert text_values("sku", BARE) == []
    assert text_values("price", SHIRT) == []


def test_numeric_values_per_field() -> None:
    # Variants without their own price sell at the product's.
    assert [str(v) for v in numeric_values("price", SHIRT)] == ["49.90", "54.90", "49.90"]
    assert [str(v) for v in numeric_values("compareAtPrice", SHIRT)] == ["60"] * 3
    assert [str(v) for v in numeric_values("inventoryQuantity", SHIRT)] == ["7"]
    assert numeric_values("price", BARE) == []
    assert numeric_values("inventoryQuantity", BARE) == []
    no_stock_stated = {"title": "x", "variants": [{"sku": "A"}]}
    assert numeric_values("inventoryQuantity", no_stock_stated) == []
    zero = {"title": "x", "variants": [{"sku": "A", "inventoryQuantity": 0}]}
    assert [str(v) for v in numeric_values("inventoryQuantity", zero)] == ["0"]
    single = {"title": "x", "price": money("10")}
    assert [str(v) for v in numeric_values("price", single)] == ["10"]
    assert numeric_values("title", SHIRT) == []


# ---------------------------------------------------------------------- text relations


@pytest.mark.parametrize(
    ("field", "relation", "condition", "expected"),
    [
        ("title", "equals", "blue linen shirt", True),  # case-insensitive
        ("title", "equals", "Blue Linen", False),
        ("title", "notEquals", "Blue Linen", True),
        ("title", "notEquals", "BLUE LINEN SHIRT", False),
        ("title", "startsWith", "blue", True),
        ("title", "startsWith", "Linen", False),
        ("title", "endsWith", "SHIRT", True),
        ("title", "endsWith", "blue", False),
        ("title", "contains", "linen", True),
        ("title", "contains", "wool", False),
        ("title", "notContains", "wool", True),
        ("title", "notContains", "LINEN", False),
        ("handle", "equals", "blue-linen-shirt", True),
        ("vendor", "startsWith", "acme", True),
        ("productType", "equals", "shirts", True),
        ("tag", "equals", "summer", True),  # any tag
        ("tag", "equals", "LINEN", True),
        ("tag", "equals", "winter", False),
        ("tag", "notEquals", "summer", False),  # none of the tags may equal it
        ("tag", "notEquals", "winter", True),
        ("tag", "contains", "umm", True),
        ("tag", "notContains", "umm", False),
        ("tag", "notContains", "wool", True),
        ("tag", "startsWith", "lin", True),
        ("tag", "endsWith", "mer", True),
        ("category", "equals", "apparel", True),
        ("category", "equals", "shoes", False),
        ("category", "notEquals", "shoes", True),
        ("category", "notEquals", "shirts", False),
        ("status", "equals", "active", True),
        ("status", "equals", "draft", False),
        ("status", "notEquals", "archived", True),
        ("sku", "equals", "shirt-1", True),  # the product's SKU
        ("sku", "equals", "SHIRT-1-XXL", True),  # a variant's SKU
        ("sku", "endsWith", "-m", True),
        ("sku", "equals", "SHIRT-2", False),
        ("sku", "notEquals", "SHIRT-1-S", False),
        ("sku", "notContains", "PANTS", True),
    ],
)
def test_text_relations(field: str, relation: str, condition: str, expected: bool) -> None:
    assert check(field, relation, condition) is expected


def test_handle_defaults_to_the_name() -> None:
    assert check("handle", "equals", "bare-name", BARE, "bare-name")
    assert not check("handle", "equals", "bare-name", BARE, "other")
    assert check("handle", "notEquals", "bare-name", BARE, "other")


def test_status_defaults_to_draft() -> None:
    assert check("status", "equals", "draft", BARE)
    assert not check("status", "equals", "active", BARE)


def test_missing_values() -> None:
    """No value: positive relations fail, their negations hold."""
    for field in ("vendor", "productType", "tag", "category", "sku"):
        for relation in ("equals", "startsWith", "endsWith", "contains"):
            assert not check(field, relation, "x", BARE), (field, relation)
        for relation in ("notEquals", "notContains"):
            assert check(field, relation, "x", BARE), (field, relation)
    for field in NUMERIC_FIELDS:
        for relation in ("equals", "greaterThan", "lessThan"):
            assert not check(field, relation, "0", BARE), (field, relation)
        assert check(field, "notEquals", "0", BARE), field


def test_case_insensitivity_uses_casefold() -> None:
    product = {"title": "Straße", "tags": ["ÉTÉ"]}
    assert check("title", "equals", "STRASSE", product)
    assert check("tag", "equals", "été", product)


# ---------------------------------------------------------------------- numeric relations


@pytest.mark.parametrize(
    ("field", "relation", "condition", "expected"),
    [
        ("price", "equals", "49.9", True),  # exact decimals: 49.90 == 49.9
        ("price", "equals", "54.90", True),  # a variant's own price
        ("price", "equals", "50", False),
        ("price", "notEquals", "50", True),
        ("price", "notEquals", "49.9000", False),
        ("price", "lessThan", "50", True),  # some variant sells below 50
        ("price", "lessThan", "49.9", False),
        ("price", "greaterThan", "54.89", True),
        ("price", "greaterThan", "54.9", False),
        ("compareAtPrice", "greaterThan", "0", True),
        ("compareAtPrice", "equals", "60.00", True),
        ("compareAtPrice", "lessThan", "60", False),
        ("inventoryQuantity", "equals", "7", True),  # the sum over variants
        ("inventoryQuantity", "greaterThan", "6", True),
        ("inventoryQuantity", "lessThan", "7", False),
        ("inventoryQuantity", "notEquals", "3", True),
    ],
)
def test_numeric_relations(field: str, relation: str, condition: str, expected: bool) -> None:
    assert check(field, relation, condition) is expected


def test_currency_is_ignored() -> None:
    yen = {"title": "x", "price": money("49", "JPY")}
    eur = {"title": "x", "price": money("49", "EUR")}
    assert check("price", "lessThan", "50", yen) and check("price", "lessThan", "50", eur)


def test_variant_compare_at_price_overrides_the_products() -> None:
    product = {
        "title": "x",
        "compareAtPrice": money("20"),
        "variants": [{"sku": "A", "compareAtPrice": money("5")}, {"sku": "B"}],
    }
    assert [str(v) for v in numeric_values("compareAtPrice", product)] == ["5", "20"]
    assert check("compareAtPrice", "lessThan", "6", product)
    assert check("compareAtPrice", "greaterThan", "19", product)
    assert not check("compareAtPrice", "greaterThan", "20", product)


def test_refused_combinations_never_match() -> None:
    for field in NUMERIC_FIELDS:
        for relation in TEXT_RELATIONS - NUMERIC_RELATIONS:
            assert not check(field, relation, "1"), (field, relation)
    for field in TEXT_FIELDS:
        for relation in NUMERIC_RELATIONS - TEXT_RELATIONS:
            assert not check(field, relation, "a"), (field, relation)
    assert not check("weight", "equals", "1")
    assert not check("title", "matches", "Blue Linen Shirt")
    assert not check("price", "equals", "cheap")
    assert not check("price", "notEquals", "cheap")
    assert not check("price", "equals", "NaN")


def test_negations_are_complements() -> None:
    """For every field and condition, notEquals == not equals, notContains == not contains."""
    products = [SHIRT, BARE, {"title": "Acme", "vendor": "acme", "tags": []}]
    conditions = ["acme", "shirt-1", "summer", "49.9", "7", "draft", "x"]
    for product in products:
        for condition in conditions:
            for field in TEXT_FIELDS:
                for positive, negative in (("equals", "notEquals"), ("contains", "notContains")):
                    assert check(field, negative, condition, product) is not check(
                        field, positive, condition, product
                    ), (field, positive, condition)
            for field in NUMERIC_FIELDS:
                if condition[0].isdigit():
                    assert check(field, "notEquals", condition, product) is not check(
                        field, "equals", condition, product
                    )


# ---------------------------------------------------------------------- combining rules


def rules(*items: tuple[str, str, str], disjunctive: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "title": "c",
        "rules": [{"field": f, "relation": r, "condition": c} for f, r, c in items],
    }
    if disjunctive:
        spec["appliedDisjunctively"] = disjunctive
    return spec


def test_conjunctive_by_default() -> None:
    both = rules(("tag", "equals", "linen"), ("price", "lessThan", "50"))
    assert matches(both, SHIRT)
    one_fails = rules(("tag", "equals", "linen"), ("price", "lessThan", "40"))
    assert not matches(one_fails, SHIRT)


def test_disjunctive_when_applied_disjunctively() -> None:
    either = rules(("tag", "equals", "wool"), ("price", "lessThan", "50"), disjunctive=True)
    assert matches(either, SHIRT)
    neither = rules(("tag", "equals", "wool"), ("price", "lessThan", "40"), disjunctive=True)
    assert not matches(neither, SHIRT)
    explicit_false = rules(("tag", "equals", "wool"), ("tag", "equals", "linen"))
    explicit_false["appliedDisjunctively"] = False
    assert not matches(explicit_false, SHIRT)


def test_manual_collections_match_nothing() -> None:
    manual = {"title": "m", "products": ["blue-linen-shirt"]}
    assert rule_set(manual) is None
    assert not matches(manual, SHIRT, "blue-linen-shirt")
    assert rule_set({"title": "m", "rules": []}) is None
    assert rule_set({"title": "m", "rules": "tag"}) is None


def test_malformed_rules_never_match() -> None:
    spec = {"title": "c", "rules": ["tag equals linen"]}
    parsed = rule_set(spec)
    assert parsed is not None and parsed.rules == (Rule("", "", ""),)
    assert not matches(spec, SHIRT)
    assert not matches({"title": "c", "rules": [{"field": "tag"}]}, SHIRT)


def test_rule_set_key_ignores_order_and_repeats() -> None:
    a = rule_set(rules(("tag", "equals", "x"), ("tag", "equals", "y")))
    b = rule_set(rules(("tag", "equals", "y"), ("tag", "equals", "x"), ("tag", "equals", "y")))
    c = rule_set(rules(("tag", "equals", "x"), ("tag", "equals", "y"), disjunctive=True))
    assert a is not None and b is not None and c is not None
    assert a.key() == b.key()
    assert a.key() != c.key()


def test_matching_collections_sorted() -> None:
    sets = {
        "sale": RuleSet((Rule("compareAtPrice", "greaterThan", "0"),)),
        "cheap": RuleSet((Rule("price", "lessThan", "10"),)),
        "linen": RuleSet((Rule("tag", "equals", "linen"),)),
    }
    assert matching_collections(sets, SHIRT, "n") == ["linen", "sale"]
    assert matching_collections({}, SHIRT) == []


def test_every_schema_valid_rule_evaluates() -> None:
    """Each field and relation the collection schema accepts is a combination evaluated."""
    registry = KindRegistry.builtin()
    for field in sorted(TEXT_FIELDS | NUMERIC_FIELDS):
        relations = NUMERIC_RELATIONS if field in NUMERIC_FIELDS else TEXT_RELATIONS
        for relation in sorted(relations):
            condition = "5" if field in NUMERIC_FIELDS else "active"
            spec = one(field, relation, condition)
            manifest = Manifest.from_object(
                {
                    "apiVersion": "gitstore.dev/v1",
                    "kind": "Collection",
                    "metadata": {"name": "c"},
                    "spec": spec,
                }
            )
            assert validate_manifest(manifest, registry) == [], (field, relation)
            parsed = rule_set(spec)
            assert parsed == RuleSet((Rule(field, relation, condition),))
            # Evaluated, not refused: on a product with no value at all, exactly the
            # negations hold.
            assert check(field, relation, condition, {"title": "x", "status": "draft"}) is (
                relation.startswith("not") and (field, condition) != ("status", "draft")
            )
