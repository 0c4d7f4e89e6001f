"""Product readiness: whether a product's spec is ready to sell, as a ``Ready`` condition.

Pure logic (no I/O), used by the built-in readiness controller (``controllers/builtin``).
A product is ready when every check passes; otherwise ``Ready`` is ``False`` with the first
problem's reason and a message listing all of them (in this order):

=====================  ==================================================================
reason                 when
=====================  ==================================================================
``NotActive``          ``spec.status`` is not ``active`` (draft is the default)
``MissingCategory``    ``spec.categories`` is empty
``MissingPrice``       neither the product nor every variant has a ``price``
``MissingSKU``         a product without variants has no ``sku``, or a variant has none
``PriceBelowCost``     a price is below ``spec.attributes.cost`` (same currency assumed)
=====================  ==================================================================

The spec is the hub form from the resource store; a malformed amount counts as missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

READY = "Ready"


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str
    message: str


def _amount(money: object) -> Decimal | None:
    if not isinstance(money, Mapping):
        return None
    try:
        return Decimal(str(money.get("amount")))
    except InvalidOperation:
        return None


def _cost(spec: Mapping[str, Any]) -> Decimal | None:
    attributes = spec.get("attributes")
    if not isinstance(attributes, Mapping) or "cost" not in attributes:
        return None
    cost = attributes["cost"]
    if isinstance(cost, bool):
        return None
    try:
        return Decimal(str(cost))
    except InvalidOperation:
        return None


def problems(spec: Mapping[str, Any]) -> list[Problem]:
    """Every reason the product is not ready, in the documented order."""
    found: list[Problem] = []
    if spec.get("status", "draft") != "active":
        found.append(Problem("NotActive", f"status is {spec.get('status', 'draft')!r}"))
    if not spec.get("categories"):
        found.append(Problem("MissingCategory", "the product is in no category"))
    raw = spec.get("variants")
    variants: Sequence[Any] = raw if isinstance(raw, list) else []
    own = _amount(spec.get("price"))
    prices: list[tuple[str, Decimal]] = []
    unpriced: list[str] = []
    unskued: list[str] = []
    for index, variant in enumerate(variants):
        v = variant if isinstance(variant, Mapping) else {}
        label = str(v.get("sku") or f"variants[{index}]")
        price = _amount(v.get("price"))
        if price is None:
            price = own
        if price is None:
            unpriced.append(label)
        else:
            prices.append((label, price))
        if not v.get("sku"):
            unskued.append(f"variants[{index}]")
    if not variants:
        if own is None:
            unpriced.append("the product")
        else:
            prices.append(("the product", own))
        if not spec.get("sku"):
            unskued.append("the product")
    if unpriced:
        found.append(Problem("MissingPrice", "no price: " + ", ".join(unpriced)))
    if unskued:
        found.append(Problem("MissingSKU", "no SKU: " + ", ".join(unskued)))
    cost = _cost(spec)
    if cost is not None:
        below = [f"{label} ({price} < {cost})" for label, price in prices if price < cost]
        if below:
            found.append(Problem("PriceBelowCost", "price below cost: " + ", ".join(below)))
    return found


def ready_condition(spec: Mapping[str, Any], generation: int) -> dict[str, Any]:
    """The ``Ready`` condition of a product spec at ``generation`` (the server sets
    ``lastTransitionTime``)."""
    found = problems(spec)
    if not found:
        return {
            "type": READY,
            "status": "True",
            "reason": "Ready",
            "message": "the product is ready to sell",
            "observedGeneration": generation,
        }
    return {
        "type": READY,
        "status": "False",
        "reason": found[0].reason,
        "message": "; ".join(f"{p.reason}: {p.message}" for p in found),
        "observedGeneration": generation,
    }


def readiness_status(
    current: Mapping[str, Any], spec: Mapping[str, Any], generation: int
) -> dict[str, Any]:
    """``current`` status with the ``Ready`` condition and ``observedGeneration`` replaced
    (other conditions and fields kept)."""
    condition = ready_condition(spec, generation)
    raw = current.get("conditions")
    others = [
        c
        for c in (raw if isinstance(raw, list) else [])
        if not (isinstance(c, Mapping) and c.get("type") == READY)
    ]
    return {**current, "observedGeneration": generation, "conditions": [*others, condition]}
