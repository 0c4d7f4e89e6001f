"""Spoke manifests to the hub with the real price hook; a runaway hook refuses every file of
its group with the file, kind, version and hook named, and converts nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from gitstore.backends.wasm import AsyncHookRunner, WasmHookRunner
from gitstore.domain.content import Manifest
from gitstore.domain.content.kindset import registry_for
from gitstore.domain.conversion import to_hub

from .conftest import Hook

MONEY = {"type": "object", "required": ["amount", "currency"]}


def offer_kind(module: str, sha256: str) -> Manifest:
    def version(name: str, hub: bool, field: str, schema: Any) -> dict[str, Any]:
        return {
            "name": name,
            "served": True,
            "storage": hub,
            "schema": {"type": "object", "required": ["title", field],
                       "properties": {"title": {"type": "string"}, field: schema}},
        }  # fmt: skip

    matrix = {"type": "array", "items": {"type": "object", "required": ["minQuantity", "price"]}}
    return Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "KindDefinition",
            "metadata": {"name": "offers"},
            "spec": {
                "group": "shop.example",
                "names": {"kind": "Offer", "plural": "offers", "singular": "offer"},
                "versions": [
                    version("v1", False, "price", MONEY),
                    version("v2", True, "pricingMatrix", matrix),
                ],
                "conversion": {"strategy": "Wasm", "wasm": {"module": module, "sha256": sha256}},
            },
        }
    )


def offer(name: str, version: str, **spec: Any) -> Manifest:
    m = Manifest.from_object(
        {"apiVersion": f"shop.example/{version}", "kind": "Offer",
         "metadata": {"name": name}, "spec": {"title": name, **spec}},
    )  # fmt: skip
    return Manifest(m.api_version, m.kind, m.name, m.spec, path=f"offers/{name}.yaml")


PRICE = {"amount": "5.00", "currency": "EUR"}


def run(hook: Hook, name: str, manifests: list[Manifest]) -> Any:
    ref, data = hook(name)
    kinds = registry_for([offer_kind(ref.module, ref.sha256)])
    assert not kinds.errors, kinds.errors
    runner = WasmHookRunner()
    pool = AsyncHookRunner(runner)

    async def module(path: str) -> bytes | None:
        return data if path == ref.module else None

    try:
        return asyncio.run(to_hub(manifests, kinds.registry, module, pool.convert))
    finally:
        pool.close()
        runner.close()


def test_v1_and_v2_manifests_come_out_in_the_hub_shape(hook: Hook) -> None:
    hub_row = [{"minQuantity": 1, "price": PRICE}]
    written = [offer("a", "v1", price=PRICE), offer("b", "v2", pricingMatrix=hub_row)]
    result = run(hook, "price", written)
    assert result.failures == {}
    a, b = result.manifests
    assert a.api_version == "shop.example/v2" and a.spec["pricingMatrix"] == hub_row
    assert "price" not in a.spec
    assert b is written[1]  # already hub: untouched


def test_a_runaway_hook_refuses_its_group_naming_file_kind_version_and_hook(hook: Hook) -> None:
    written = [offer("a", "v1", price=PRICE), offer("b", "v1", price=PRICE)]
    result = run(hook, "loop", written)
    assert result.manifests == [None, None]
    message = result.failures[0][0].message
    assert result.failures[0][0].path == "offers/a.yaml"
    assert "Offer shop.example/v1" in message and "hooks/loop.wasm" in message
    assert result.failures[0][0].rule == "conversion"
