"""The readiness rules (domain/readiness.py): reasons, order, observedGeneration."""

from __future__ import annotations

from typing import Any

from gitstore.domain.readiness import problems, readiness_status, ready_condition


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


READY_SPEC: dict[str, Any] = {
    "title": "Shirt",
    "status": "active",
    "categories": ["shirts"],
    "price": money("20.00"),
    "sku": "SH-1",
    "attributes": {"cost": "8.50"},
}


def test_a_complete_active_product_is_ready() -> None:
    assert problems(READY_SPEC) == []
    condition = ready_condition(READY_SPEC, 4)
    assert condition["status"] == "True" and condition["observedGeneration"] == 4


def test_each_problem_has_its_reason_in_order() -> None:
    spec = {
        "title": "x",
        "variants": [{"sku": "A", "price": money("5")}, {"sku": "", "title": "no sku"}],
        "attributes": {"cost": 6},
    }
    found = [p.reason for p in problems(spec)]
    assert found == ["NotActive", "MissingCategory", "MissingPrice", "MissingSKU", "PriceBelowCost"]
    condition = ready_condition(spec, 2)
    assert condition["status"] == "False" and condition["reason"] == "NotActive"
    assert "variants[1]" in condition["message"] and "A (5 < 6)" in condition["message"]


def test_variants_inherit_the_product_price() -> None:
    spec = {**READY_SPEC, "sku": None, "variants": [{"sku": "S"}, {"sku": "M"}]}
    assert problems(spec) == []
    cheap = {**spec, "attributes": {"cost": "25"}}
    assert [p.reason for p in problems(cheap)] == ["PriceBelowCost"]


def test_status_keeps_other_conditions_and_replaces_ready() -> None:
    other = {"type": "Synced", "status": "True", "reason": "Done"}
    old_ready = {"type": "Ready", "status": "False", "reason": "MissingCategory"}
    status = readiness_status({"conditions": [other, old_ready], "x": 1}, READY_SPEC, 3)
    assert status["x"] == 1 and status["observedGeneration"] == 3
    assert status["conditions"][0] == other
    assert [c["type"] for c in status["conditions"]] == ["Synced", "Ready"]
    assert status["conditions"][1]["status"] == "True"
