"""A KindDefinition's hook is checked when it is added or changed: examples round-trip."""

from __future__ import annotations

import copy
from typing import Any

from gitstore.backends.wasm import WasmHookRunner
from gitstore.domain.content.kinds import kind_definition_errors
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.conversion import check_conversion
from tests.conversion.conftest import Hook

MONEY = {
    "type": "object",
    "required": ["amount", "currency"],
    "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}},
}


def bundles(module: str, sha256: str, examples: list[dict[str, Any]]) -> Manifest:
    return Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "KindDefinition",
            "metadata": {"name": "bundles"},
            "spec": {
                "group": "acme.example",
                "names": {"kind": "Bundle", "plural": "bundles", "singular": "bundle"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": False,
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"title": {"type": "string"}, "price": MONEY},
                        },
                    },
                    {
                        "name": "v2",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "title": {"type": "string"},
                                "pricingMatrix": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["minQuantity", "price"],
                                        "properties": {
                                            "minQuantity": {"type": "integer", "minimum": 1},
                                            "price": MONEY,
                                        },
                                    },
                                },
                            },
                        },
                    },
                ],
                "conversion": {
                    "strategy": "Wasm",
                    "wasm": {"module": module, "sha256": sha256},
                    "examples": examples,
                },
            },
        },
        "kinds/bundles.yaml",
    )


EUR5 = {"amount": "5", "currency": "EUR"}
V1_EXAMPLE = {"version": "v1", "spec": {"title": "Box", "price": EUR5}}
V2_EXAMPLE = {
    "version": "v2",
    "spec": {
        "title": "Box",
        "pricingMatrix": [{"minQuantity": 1, "price": {"amount": "5", "currency": "EUR"}}],
    },
}


def test_the_price_hook_passes(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("price")
    manifest = bundles(ref.module, ref.sha256, [V1_EXAMPLE, V2_EXAMPLE])
    assert kind_definition_errors(manifest) == []
    assert check_conversion(manifest, data, runner) == []


def test_a_lossy_hub_example_is_named(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("price")
    tiered = copy.deepcopy(V2_EXAMPLE)
    tiered["spec"]["pricingMatrix"].append(
        {"minQuantity": 10, "price": {"amount": "4", "currency": "EUR"}}
    )
    errors = check_conversion(bundles(ref.module, ref.sha256, [V1_EXAMPLE, tiered]), data, runner)
    assert [(e.path, e.field, e.rule) for e in errors] == [
        ("kinds/bundles.yaml", "spec.conversion.examples[1]", "conversion")
    ]
    assert "kind Bundle example 1 (v2) does not round-trip through hooks/price.wasm" in (
        errors[0].message
    )
    assert "(v2 -> v1 -> v2): spec.pricingMatrix differs" in errors[0].message


def test_a_hook_whose_output_is_invalid_in_the_hub_is_refused(
    runner: WasmHookRunner, hook: Hook
) -> None:
    ref, data = hook("identity")  # leaves `price` in place: not a v2 field
    errors = check_conversion(bundles(ref.module, ref.sha256, [V1_EXAMPLE]), data, runner)
    assert len(errors) == 1
    assert "kind Bundle example 0 (v1) converted to v2 by hooks/identity.wasm is not valid" in (
        errors[0].message
    )


def test_a_failing_hook_refuses_the_definition(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("loop")
    errors = check_conversion(bundles(ref.module, ref.sha256, [V1_EXAMPLE]), data, runner)
    assert [e.field for e in errors] == ["spec.conversion.examples[0]"]
    assert "kind Bundle: examples in v1 (v1 -> v2 -> v1)" in errors[0].message
    assert "ran out of fuel" in errors[0].message


def test_missing_module_wrong_sha256_and_unknown_version(
    runner: WasmHookRunner, hook: Hook
) -> None:
    ref, data = hook("price")
    manifest = bundles(ref.module, ref.sha256, [V1_EXAMPLE])
    assert "is not in the repository" in check_conversion(manifest, None, runner)[0].message
    wrong = bundles(ref.module, "0" * 64, [V1_EXAMPLE])
    [error] = check_conversion(wrong, data, runner)
    assert error.field == "spec.conversion.wasm.sha256" and ref.sha256 in error.message
    unknown = bundles(ref.module, ref.sha256, [{"version": "v9", "spec": {}}])
    [error] = check_conversion(unknown, data, runner)
    assert error.field == "spec.conversion.examples[0].version"
    assert "kind Bundle has no version 'v9'" in error.message


def test_sha256_is_required_for_wasm() -> None:
    manifest = bundles("hooks/price.wasm", "", [])
    del manifest.spec["conversion"]["wasm"]["sha256"]
    assert [(e.field, e.rule) for e in kind_definition_errors(manifest)] == [
        ("spec.conversion.wasm.sha256", "required")
    ]
