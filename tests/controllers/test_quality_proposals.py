"""The catalogue-quality controller against a real ``gitstore serve``: one change request per
fixable product with a field-level diff, nothing new on a re-run, a stale request closed when
the product is fixed on the default branch, a merge projected like any other — and the
default branch never written by the controller."""

from __future__ import annotations

from typing import Any

import pytest

from gitstore.controllers.builtin.quality import QualityController
from gitstore.controllers.change_requests import ChangeRequests
from gitstore.controllers.errors import PermanentError
from gitstore.controllers.manager import Manager
from gitstore.controllers.metrics import ControllerMetrics

from .harness import (
    Catalog,
    apply,
    category,
    delete_product,
    eventually,
    good_spec,
    product,
    resource,
)
from .proposals_harness import MERGE, change_requests, proposer

SEO = {"title": "Set", "description": "Already set."}
PREFIX = "proposals/quality/product-"


def proposals(crs: list[dict[str, Any]], state: str | None = None) -> dict[str, dict[str, Any]]:
    """name of the product -> its request (of ``state``)."""
    out = {}
    for cr in crs:
        if cr["sourceBranch"].startswith("proposals/quality/") and state in (None, cr["state"]):
            out[cr["diff"][0]["name"]] = cr
    return out


async def test_quality_proposes_once_per_product_and_never_writes_main(catalog: Catalog) -> None:
    repo = catalog.new_repository()
    owner, client = catalog.owner(), proposer(catalog)
    await apply(
        owner,
        repo,
        [
            category("shirts"),
            product("complete", **good_spec("OK-1", seo=SEO)),
            product("no-seo", **good_spec("NS-1")),
            product(
                "odd-price",
                **good_spec("OP-1", seo=SEO, compareAtPrice={"amount": "15", "currency": "EUR"}),
            ),
            product("retitled", **good_spec("RT-1")),
        ],
    )
    main_before = catalog.served.git(repo, "rev-parse", "refs/heads/main").strip()
    metrics = ControllerMetrics()

    def manager() -> Manager:
        return Manager(client, repo, [QualityController(metrics=metrics)], metrics=metrics)

    first = manager()
    await first.start()
    try:

        async def three_open() -> Any:
            found = proposals(await change_requests(client, repo), "OPEN")
            return found if len(found) == 3 else None

        found = await eventually(three_open, what="three quality proposals")
    finally:
        await first.stop(5)
    assert set(found) == {"no-seo", "odd-price", "retitled"}
    # the default branch is where it was: the controller only wrote proposal branches
    assert catalog.served.git(repo, "rev-parse", "refs/heads/main").strip() == main_before
    seo_cr = found["no-seo"]
    assert seo_cr["sourceBranch"].startswith("proposals/quality/product-no-seo-")
    [entry] = seo_cr["diff"]
    assert (entry["kind"], entry["op"]) == ("Product", "CHANGED")
    fields = {f["path"]: f["new"] for f in entry["fields"]}
    assert fields == {
        "spec.seo.title": "No-Seo | Shirts",
        "spec.seo.description": "No-Seo in Shirts.",
    }
    assert "missing SEO title" in seo_cr["description"]
    [price_entry] = found["odd-price"]["diff"]
    assert sorted((f["path"], f["op"], f["old"]) for f in price_entry["fields"]) == [
        ("spec.compareAtPrice.amount", "REMOVED", "15"),
        ("spec.compareAtPrice.currency", "REMOVED", "EUR"),
    ]

    # a re-run (a new manager: list, reconcile everything again) opens nothing new
    again = manager()
    await again.start()
    try:
        await eventually(lambda: _done(again, 4), what="the re-run reconciled all four")
    finally:
        await again.stop(5)
    crs = await change_requests(client, repo)
    assert len(proposals(crs)) == 3 and len(crs) == 3
    assert (
        metrics.registry.get_sample_value(
            "gitstore_controller_proposals_total", {"controller": "quality", "action": "opened"}
        )
        == 3
    )

    watching = manager()
    await watching.start()
    try:
        # fixed on the default branch by a person: the proposal is stale and closed, saying why
        await apply(owner, repo, [product("no-seo", **good_spec("NS-1", seo=SEO))])

        async def closed() -> Any:
            cr = proposals(await change_requests(client, repo))["no-seo"]
            return cr if cr["state"] == "CLOSED" else None

        cr = await eventually(closed, what="the stale proposal closed")
        assert "no longer needs this change" in cr["comments"][-1]["body"]

        # changed so that the fix is different: a new proposal, the old one superseded
        await apply(owner, repo, [product("retitled", **{**good_spec("RT-1"), "title": "New"})])

        async def superseded() -> Any:
            crs = await change_requests(client, repo)
            mine = [c for c in crs if c["sourceBranch"].startswith(f"{PREFIX}retitled-")]
            states = {c["state"]: c for c in mine}
            return states if len(mine) == 2 and set(states) == {"OPEN", "CLOSED"} else None

        states = await eventually(superseded, what="the retitled proposal superseded")
        new_number = states["OPEN"]["number"]
        assert states["CLOSED"]["comments"][-1]["body"].startswith(f"Superseded by !{new_number}")
        assert {f["path"]: f["new"] for f in states["OPEN"]["diff"][0]["fields"]} == {
            "spec.seo.title": "New | Shirts",
            "spec.seo.description": "New in Shirts.",
            "spec.handle": "new",
        }

        # deleted: its open proposal cannot be merged any more and is closed
        await delete_product(owner, repo, "retitled")

        async def all_closed() -> Any:
            crs = await change_requests(client, repo)
            mine = [c for c in crs if c["sourceBranch"].startswith(f"{PREFIX}retitled-")]
            return mine if {c["state"] for c in mine} == {"CLOSED"} else None

        mine = await eventually(all_closed, what="the deleted product's proposal closed")
        assert any("was deleted" in c["comments"][-1]["body"] for c in mine)

        # merging a proposal goes the normal way: the projection drops compareAtPrice
        merge = found["odd-price"]
        data = await owner.execute(
            MERGE,
            {"i": {"id": merge["id"], "expectedHeadSha": merge["headSha"], "strategy": "SQUASH"}},
        )
        assert data["mergeChangeRequest"]["userErrors"] == [], data

        async def projected() -> Any:
            obj = await resource(owner, repo, "odd-price")
            return obj if obj and "compareAtPrice" not in obj["spec"] else None

        await eventually(projected, what="the merged fix projected")
        await eventually(lambda: _done(watching, 8), what="reconciles after the merge")
        crs = await change_requests(client, repo)
        # nothing reopened
        assert sorted(cr["state"] for cr in crs) == ["CLOSED", "CLOSED", "CLOSED", "MERGED"]
    finally:
        await watching.stop(5)
        await owner.close()
        await client.close()


async def _done(manager: Manager, count: int) -> bool:
    return sum(runner.reconciled for runner in manager.runners) >= count


async def test_cap_on_open_proposals_and_default_branch_refused(catalog: Catalog) -> None:
    repo = catalog.new_repository()
    owner, client = catalog.owner(), proposer(catalog)
    await apply(
        owner,
        repo,
        [
            category("shirts"),
            product("one", **good_spec("O-1")),
            product("two", **good_spec("T-1")),
        ],
    )
    metrics = ControllerMetrics()
    capped = QualityController(max_open=1, metrics=metrics)
    manager = Manager(client, repo, [capped], metrics=metrics)
    await manager.start()
    try:

        async def waiting() -> Any:
            return metrics.registry.get_sample_value(
                "gitstore_controller_proposals_total", {"controller": "quality", "action": "capped"}
            )

        await eventually(waiting, what="the second proposal capped")
    finally:
        await manager.stop(5)
    assert len(await change_requests(client, repo)) == 1
    with pytest.raises(PermanentError, match="refusing to write the default branch"):
        await ChangeRequests(client, repo).write_branch("main", [product("one")], "no")
    await owner.close()
    await client.close()
