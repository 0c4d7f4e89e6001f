"""The JSON Schema form (static/js/schemaform.js) in the browser, on schemas the catalogue
kinds do not exercise: JSON boxes for what a form cannot show, arrays of objects whose item
paths follow removals, numbers, booleans, and errors placed at the nearest field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.servers import on_ci

try:
    from playwright.sync_api import Page
except ImportError:  # an environment without the dev extra: fail on CI, else skip
    if on_ci():
        raise
    pytest.skip(
        "playwright is not installed (pip install -r requirements.txt: the dev extra)",
        allow_module_level=True,
    )

from tests.catalog_writes.harness import Stack

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 50},
        "size": {"type": "integer", "minimum": 0},
        "ratio": {"type": "number"},
        "gift": {"type": "boolean"},
        "shape": {"oneOf": [{"type": "string"}, {"type": "object"}]},
        "extras": {"type": "object", "additionalProperties": {"type": "string"}},
        "parts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string", "maxLength": 20}},
            },
        },
        "tone": {"$ref": "#/$defs/tone"},
    },
    "$defs": {"tone": {"type": "string", "enum": ["warm", "cold"]}},
}

MOUNT = """
async ([schema, value]) => {
  const form = await import("/admin/js/schemaform.js");
  const main = document.getElementById("main");
  const built = form.specForm(schema, value);
  const summary = document.createElement("div");
  main.replaceChildren(summary, built.el);
  window.__form = { form, built, summary, main };
}
"""


def mount(page: Page, stack: Stack, value: Any) -> None:
    page.goto(f"{stack.api.base_url}/admin/#/login")
    page.get_by_role("heading", name="Sign in").wait_for()
    page.evaluate(MOUNT, [SCHEMA, value])


def read(page: Page) -> Any:
    return page.evaluate("() => window.__form.built.read()")


def test_fields_of_every_shape_and_what_they_read(stack: Stack, page: Page) -> None:
    mount(
        page,
        stack,
        {"name": "a", "size": 3, "shape": {"sides": 4}, "extras": {"x": "y"}, "kept": True},
    )
    assert page.get_by_label("Size").input_value() == "3"
    assert page.get_by_label("Size").get_attribute("type") == "number"
    # what a form cannot show is a JSON box for that part only
    assert page.get_by_label("Shape").input_value().replace(" ", "").replace("\n", "") == (
        '{"sides":4}'
    )
    assert page.get_by_label("Tone").evaluate("el => el.tagName") == "SELECT"  # $ref to an enum
    page.get_by_label("Ratio").fill("0.5")
    page.get_by_label("Gift").select_option("true")
    page.get_by_label("Tone").select_option("cold")
    got = read(page)
    # keys the schema does not name are kept; unset fields are left out
    assert got == {
        "name": "a",
        "size": 3,
        "ratio": 0.5,
        "gift": True,
        "shape": {"sides": 4},
        "extras": {"x": "y"},
        "tone": "cold",
        "kept": True,
    }
    page.get_by_label("Shape").fill("{not json")
    with pytest.raises(Exception, match="is not valid JSON"):
        read(page)


def test_array_items_follow_removals_and_errors_land_at_fields(stack: Stack, page: Page) -> None:
    mount(page, stack, {"name": "a", "parts": [{"sku": "one"}, {"sku": "two"}, {"sku": "three"}]})
    parts = page.get_by_role("group", name="Parts")
    parts.get_by_role("button", name="Remove part 1").click()
    expect_paths = page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-path]'), e => e.dataset.path)"
    )
    assert "spec.parts[0].sku" in expect_paths and "spec.parts[1].sku" in expect_paths
    assert "spec.parts[2].sku" not in expect_paths
    assert page.locator('[name="spec.parts[1].sku"]').input_value() == "three"
    parts.get_by_role("button", name="Add part").click()
    page.locator('[name="spec.parts[2].sku"]').fill("four")
    assert read(page)["parts"] == [{"sku": "two"}, {"sku": "three"}, {"sku": "four"}]

    # the API names spec.parts[1].sku: the message sits at that input, which is marked invalid
    page.evaluate(
        """() => window.__form.form.fieldErrors(window.__form.main, [
             {field: "manifests[0].spec.parts[1].sku", message: "spec.parts[1].sku: too long"},
             {field: "manifests[0].spec.extras.bad key", message: "bad key"},
             {field: "expectedVersion", message: "changed since"}],
           window.__form.summary, "manifests[0].")"""
    )
    sku = page.locator('[name="spec.parts[1].sku"]')
    assert sku.get_attribute("aria-invalid") == "true"
    described = sku.get_attribute("aria-describedby") or ""
    message = page.locator(f"#{described.split()[-1]}")
    assert message.text_content() == "too long"
    # a path inside a JSON box goes to the box; one with no field only to the summary
    assert page.get_by_label("Extras").get_attribute("aria-invalid") == "true"
    summary = page.get_by_role("alert")
    assert "There are 3 problems" in (summary.text_content() or "")
    assert "expectedVersion" in (summary.text_content() or "")
