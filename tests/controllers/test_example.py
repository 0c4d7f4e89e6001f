"""examples/controllers/low_stock.py runs as documented against a real ``gitstore serve``."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.e2e.served import ROOT

from .harness import Catalog, apply, category, eventually, product, resource

EXAMPLE = ROOT / "examples" / "controllers" / "low_stock.py"


def variant(sku: str, quantity: int) -> dict[str, Any]:
    return {"sku": sku, "inventoryQuantity": quantity, "price": {"amount": "9", "currency": "EUR"}}


async def test_the_low_stock_example_sets_its_condition(catalog: Catalog) -> None:
    repo = catalog.new_repository()
    prefix = repo.replace("/", "-")
    owner = catalog.owner()
    await apply(
        owner,
        repo,
        [
            category("shirts"),
            product("low", variants=[variant(f"{prefix}-l1", 2), variant(f"{prefix}-l2", 40)]),
            product("plenty", variants=[variant(f"{prefix}-p1", 40)]),
        ],
    )
    await owner.close()
    env = {
        **os.environ,
        "GITSTORE_API_URL": catalog.url,
        "GITSTORE_TOKEN": catalog.controller_token,
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), repo, "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "reconciled 2 products" in done.stdout
    client = catalog.controller()
    try:
        for name, expected in (("low", "True"), ("plenty", "False")):

            async def check(name: str = name) -> Any:
                obj = await resource(client, repo, name)
                found = [
                    c for c in (obj or {}).get("status", {}).get("conditions", [])
                    if c["type"] == "LowStock"
                ]  # fmt: skip
                return found[0] if found else None

            condition = await eventually(check, what=f"LowStock on {name}")
            assert condition["status"] == expected
            assert condition["observedGeneration"] == 1
    finally:
        await client.close()
