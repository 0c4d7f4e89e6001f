"""The readiness controller against a real ``gitstore serve``: products written through the
API, the controller (informer over graphql-sse, status over GraphQL) sets ``Ready`` with the
right reasons and observedGeneration, and a spec change (generation 2) is reconciled again."""

from __future__ import annotations

from typing import Any

from gitstore.controllers.builtin.readiness import ReadinessController
from gitstore.controllers.manager import Manager

from .harness import Catalog, apply, category, eventually, good_spec, product, ready_of, resource


async def test_ready_reasons_observed_generation_and_spec_changes(catalog: Catalog) -> None:
    repo = catalog.new_repository()
    owner, client = catalog.owner(), catalog.controller()
    await apply(
        owner,
        repo,
        [
            category("shirts"),
            product("ready", **good_spec("R-1")),
            product("no-category", **{**good_spec("N-1"), "categories": []}),
            product("cheap", **good_spec("C-1", price={"amount": "5", "currency": "EUR"})),
            product("draft", **{**good_spec("D-1"), "status": "draft"}),
            product("no-sku", **{k: v for k, v in good_spec("X").items() if k != "sku"}),
        ],
    )
    manager = Manager(client, repo, [ReadinessController()], lease_seconds=5, workers=2)
    await manager.start()
    try:
        expected = {
            "ready": ("True", "Ready"),
            "no-category": ("False", "MissingCategory"),
            "cheap": ("False", "PriceBelowCost"),
            "draft": ("False", "NotActive"),
            "no-sku": ("False", "MissingSKU"),
        }
        for name, (status, reason) in expected.items():

            async def check(name: str = name) -> Any:
                return ready_of(await resource(client, repo, name))

            condition = await eventually(check, what=f"Ready on {name}")
            assert (condition["status"], condition["reason"]) == (status, reason), condition
            obj = await resource(client, repo, name)
            assert obj is not None
            assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"] == 1
            assert condition["observedGeneration"] == 1
            assert condition["lastTransitionTime"]  # set by the server

        # a spec change through the API: generation 2, reconciled again
        await apply(owner, repo, [product("no-category", **good_spec("N-1"))])

        async def fixed() -> Any:
            obj = await resource(client, repo, "no-category")
            condition = ready_of(obj)
            if obj and condition and obj["status"]["observedGeneration"] == 2:
                return obj, condition
            return None

        obj, condition = await eventually(fixed, what="no-category at generation 2")
        assert obj["metadata"]["generation"] == 2
        assert (condition["status"], condition["reason"]) == ("True", "Ready")
        # nothing else was written again for generation 1's products
        ready = await resource(client, repo, "ready")
        assert ready is not None and ready["status"]["observedGeneration"] == 1
        samples = manager.metrics.registry.get_sample_value(
            "gitstore_controller_reconciles_total",
            {"controller": "readiness", "result": "success"},
        )
        assert samples is not None and samples >= 6
    finally:
        await manager.stop(5)
        await owner.close()
        await client.close()
