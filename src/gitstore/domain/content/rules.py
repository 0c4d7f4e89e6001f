"""Rule-based (automatic) collections: which products a collection's ``rules`` select.

A ``Collection`` either lists its products (``spec.products``) or selects them with
``spec.rules`` — up to 60 conditions ``{field, relation, condition}``. A product is in the
collection when it satisfies **every** rule, or **any** rule with
``appliedDisjunctively: true``. This module is the pure evaluation (no I/O); the projection
writes the result into the product's ``collection`` index (``worker/collections.py``), so
storefront reads never evaluate rules themselves.

**The product's values per field.** Every field gives a list of values (possibly empty), and
a rule is decided on that list:

==================== =================================================================
``title``            ``spec.title``
``handle``           ``spec.handle``, else the product's ``metadata.name``
``vendor``           ``spec.vendor`` (absent: no value)
``productType``      ``spec.productType`` (absent: no value)
``tag``              each of ``spec.tags``
``category``         each of ``spec.categories`` (category *names*)
``status``           ``spec.status``, default ``draft``
``sku``              ``spec.sku`` and every variant's ``sku``
``price``            the price each variant sells at: its own ``price.amount``, else the
                     product's; a product without variants: the product's ``price.amount``
``compareAtPrice``   likewise with ``compareAtPrice``
``inventoryQuantity`` the sum of the variants' ``inventoryQuantity`` (no variant states
                     one: no value). Products have no quantity of their own.
==================== =================================================================

**Relations.** Text relations (``equals``, ``startsWith``, ``endsWith``, ``contains``) are
**case-insensitive** (both sides ``str.casefold()``-ed, as Shopify does) and hold when *any*
value satisfies them. ``notEquals`` and ``notContains`` are the exact complements of
``equals`` and ``contains``: *none* of the values equals / contains the condition — so a
product without a vendor is ``notEquals "Acme"`` and is not ``equals "Acme"``. Numeric fields
(``price``, ``compareAtPrice``, ``inventoryQuantity``) compare exact decimals
(``decimal.Decimal``: ``"19.9"`` equals ``"19.90"``); **currencies are ignored** (a rule
``price lessThan 50`` compares the amount whatever its currency); ``equals``,
``greaterThan`` and ``lessThan`` hold when any value satisfies them, ``notEquals`` when none
equals the condition. Combinations the schema refuses (``contains`` on ``price``,
``greaterThan`` on ``title``), unknown fields or relations, and a numeric condition that is
not a decimal never match (negative relations included): a document that got past the schema
some other way selects nothing rather than everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_STATUS = "draft"
NUMERIC_FIELDS = frozenset({"price", "compareAtPrice", "inventoryQuantity"})
TEXT_FIELDS = frozenset(
    {"title", "handle", "vendor", "productType", "tag", "category", "status", "sku"}
)
TEXT_RELATIONS = frozenset(
    {"equals", "notEquals", "startsWith", "endsWith", "contains", "notContains"}
)
NUMERIC_RELATIONS = frozenset({"equals", "notEquals", "greaterThan", "lessThan"})


@dataclass(frozen=True, slots=True)
class Rule:
    field: str
    relation: str
    condition: str


Check = Callable[[Mapping[str, Any], "str | None"], bool]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A rule-based collection's selection: its rules and how they combine. Each rule is
    compiled once (condition case-folded or parsed as a decimal) when the set is made."""

    rules: tuple[Rule, ...]
    disjunctive: bool = False
    checks: tuple[Check, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", tuple(_compile(r) for r in self.rules))

    def key(self) -> tuple[frozenset[Rule], bool]:
        """What decides membership: order and repeats of rules do not matter."""
        return frozenset(self.rules), self.disjunctive

    def matches(self, product_spec: Mapping[str, Any], name: str | None = None) -> bool:
        """Whether a product (its ``spec``, and ``metadata.name`` for ``handle``) is in."""
        if self.disjunctive:
            return any(check(product_spec, name) for check in self.checks)
        return all(check(product_spec, name) for check in self.checks)


def rule_set(collection_spec: Mapping[str, Any]) -> RuleSet | None:
    """The ``RuleSet`` of a collection's ``spec``; None for a manual collection (or no
    usable ``rules`` list)."""
    raw = collection_spec.get("rules")
    if not isinstance(raw, list) or not raw:
        return None
    rules = []
    for item in raw:
        if not isinstance(item, Mapping):
            rules.append(Rule("", "", ""))  # never matches
            continue
        field, relation, condition = (item.get(k) for k in ("field", "relation", "condition"))
        rules.append(
            Rule(
                field if isinstance(field, str) else "",
                relation if isinstance(relation, str) else "",
                condition if isinstance(condition, str) else "",
            )
        )
    return RuleSet(tuple(rules), collection_spec.get("appliedDisjunctively") is True)


def matches(
    collection_spec: Mapping[str, Any], product_spec: Mapping[str, Any], name: str | None = None
) -> bool:
    """Whether the product is selected by the collection's rules (False for a manual one)."""
    rules = rule_set(collection_spec)
    return rules is not None and rules.matches(product_spec, name)


def matching_collections(
    rule_sets: Mapping[str, RuleSet], product_spec: Mapping[str, Any], name: str | None = None
) -> list[str]:
    """The names of the rule-based collections the product is in, sorted."""
    return sorted(c for c, rules in rule_sets.items() if rules.matches(product_spec, name))


# ---------------------------------------------------------------------- values per field


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _variants(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    variants = spec.get("variants")
    if not isinstance(variants, list):
        return []
    return [v for v in variants if isinstance(v, Mapping)]


def _amount(money: Any) -> Decimal | None:
    if not isinstance(money, Mapping):
        return None
    return _decimal(money.get("amount"))


def _decimal(text: Any) -> Decimal | None:
    if not isinstance(text, str):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _amounts(spec: Mapping[str, Any], field: str) -> list[Decimal]:
    own = _amount(spec.get(field))
    variants = _variants(spec)
    if not variants:
        return [own] if own is not None else []
    found = [_amount(v.get(field)) if field in v else own for v in variants]
    return [a for a in found if a is not None]


def _inventory(spec: Mapping[str, Any]) -> list[Decimal]:
    quantities = [
        q
        for v in _variants(spec)
        if isinstance(q := v.get("inventoryQuantity"), int) and not isinstance(q, bool)
    ]
    return [Decimal(sum(quantities))] if quantities else []


def text_values(field: str, spec: Mapping[str, Any], name: str | None = None) -> list[str]:
    """The product's values of a text field (see the module docstring)."""
    if field == "handle":
        handle = spec.get("handle")
        return [handle] if isinstance(handle, str) and handle else _strings(name)
    if field == "status":
        status = spec.get("status")
        return [status] if isinstance(status, str) and status else [DEFAULT_STATUS]
    if field == "tag":
        return _strings(spec.get("tags"))
    if field == "category":
        return _strings(spec.get("categories"))
    if field == "sku":
        return _strings(spec.get("sku")) + [
            s for v in _variants(spec) if isinstance(s := v.get("sku"), str)
        ]
    if field in ("title", "vendor", "productType"):
        return _strings(spec.get(field))
    return []


def numeric_values(field: str, spec: Mapping[str, Any]) -> list[Decimal]:
    """The product's values of a numeric field (see the module docstring)."""
    if field == "inventoryQuantity":
        return _inventory(spec)
    if field in ("price", "compareAtPrice"):
        return _amounts(spec, field)
    return []


# ---------------------------------------------------------------------- relations

_TEXT: dict[str, Callable[[str, str], bool]] = {
    "equals": lambda v, c: v == c,
    "startsWith": lambda v, c: v.startswith(c),
    "endsWith": lambda v, c: v.endswith(c),
    "contains": lambda v, c: c in v,
}
_NUMERIC: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "equals": lambda v, c: v == c,
    "greaterThan": lambda v, c: v > c,
    "lessThan": lambda v, c: v < c,
}
_NEGATED = {"notEquals": "equals", "notContains": "contains"}


def _never(spec: Mapping[str, Any], name: str | None) -> bool:
    return False


def _compile(rule: Rule) -> Check:
    """One rule as a predicate on ``(product spec, name)``."""
    relation = _NEGATED.get(rule.relation, rule.relation)
    negated = relation != rule.relation
    field_name = rule.field
    if field_name in TEXT_FIELDS and rule.relation in TEXT_RELATIONS:
        condition = rule.condition.casefold()
        test_text = _TEXT[relation]

        def check_text(spec: Mapping[str, Any], name: str | None) -> bool:
            values = text_values(field_name, spec, name)
            return any(test_text(v.casefold(), condition) for v in values) is not negated

        return check_text
    if field_name in NUMERIC_FIELDS and rule.relation in NUMERIC_RELATIONS:
        bound = _decimal(rule.condition)
        if bound is None:
            return _never
        test_number = _NUMERIC[relation]

        def check_number(spec: Mapping[str, Any], name: str | None) -> bool:
            values = numeric_values(field_name, spec)
            return any(test_number(v, bound) for v in values) is not negated

        return check_number
    return _never
