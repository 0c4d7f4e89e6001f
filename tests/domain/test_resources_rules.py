"""Pure rules of the resource model: selectors, conditions, status schemas, the window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitstore.domain.content.kinds import kind_definition_errors
from gitstore.domain.errors import InvalidArgument
from gitstore.domain.events import ResourceChangedEvent
from gitstore.domain.resources.conditions import merge_status
from gitstore.domain.resources.rules import window_floor
from gitstore.domain.resources.selector import parse_selector
from gitstore.domain.resources.status_schema import check_status, storefront_status

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a,!c", {"a": ""}, True),
        ("a,!c", {"a": "", "c": "1"}, False),
        ("app.kubernetes.io/name=shop, tier == gold", {"app.kubernetes.io/name": "shop"}, False),
    ],
)
def test_selector_matches(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(selector).matches(labels) is expected


@pytest.mark.parametrize("bad", ["a=b,", "=b", "a=b c", "a in (b)", "!"])
def test_selector_errors_name_the_selector(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="label selector") as info:
        parse_selector(bad)
    assert info.value.field == "labelSelector"


def test_conditions_are_checked_and_stamped() -> None:
    status = merge_status({}, {"conditions": [{"type": "Ready", "status": "True"}]}, NOW)
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-02T03:04:05.000000Z"
    for bad, where in [
        ({"conditions": [{"type": "", "status": "True"}]}, r"\[0\].type"),
        ({"conditions": [{"type": "A", "status": "True", "reason": "no spaces"}]}, "reason"),
        ({"conditions": [{"type": "A", "status": "True", "extra": 1}]}, "unknown field"),
        ({"conditions": [{"type": "A", "status": "True"}] * 2}, "twice"),
        ({"conditions": {}}, "must be a list"),
        ({"observedGeneration": -1}, "observedGeneration"),
        ([], "JSON object"),
    ]:
        with pytest.raises(InvalidArgument, match=where):
            merge_status({}, bad, NOW)


def test_status_schema_and_storefront_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "stock": {"type": "integer", "x-gitstore-storefront": True},
            "internal": {"type": "string"},
        },
    }
    check_status("Product", schema, {"stock": 3, "internal": "x"})
    with pytest.raises(InvalidArgument, match=r"status.stock: 'x' is not of type 'integer'"):
        check_status("Product", schema, {"stock": "x"})
    assert storefront_status(schema, {"stock": 3, "internal": "x"}) == {"stock": 3}
    assert storefront_status(None, {"stock": 3}) == {}


def test_kind_definition_accepts_and_checks_a_status_schema() -> None:
    from gitstore.domain.content.formats import parse_manifest

    def manifest(status_schema: object) -> str:
        import json

        return json.dumps(
            {
                "apiVersion": "gitstore.dev/v1",
                "kind": "KindDefinition",
                "metadata": {"name": "brands"},
                "spec": {
                    "group": "acme.example",
                    "names": {"kind": "Brand", "plural": "brands", "singular": "brand"},
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "schema": {"type": "object"},
                            "statusSchema": status_schema,
                        }
                    ],
                },
            }
        )

    good = parse_manifest(manifest({"type": "object"}).encode(), "kinds/brands.json")
    assert kind_definition_errors(good) == []
    bad = parse_manifest(manifest({"type": "array"}).encode(), "kinds/brands.json")
    assert any("statusSchema" in e.message for e in kind_definition_errors(bad))


def test_window_floor_and_event_round_trip() -> None:
    assert window_floor(0, 5, 10) == 0
    assert window_floor(0, 15, 10) == 5
    assert window_floor(7, 15, 10) == 7
    event = ResourceChangedEvent("acme/catalog", 42)
    assert ResourceChangedEvent.from_json(event.to_json()) == event
    assert b'"type":"resource.changed"' in event.to_json()
