"""Work a crash used to leave stuck forever, against a real ``gitstore serve`` and real
``gitstore controllers`` processes killed with SIGKILL (docs/controllers.md, "Held names").

A proposing controller opens a change request for a product; its process is killed (no lease
release, no watch); the product is deleted while no replica runs. The next replica takes the
lease once the dead one's lapses, lists, finds the open proposal of a product that is no
longer there (``Controller.held``) and closes it — and the API deletes its proposal branch.
Before, the request stayed OPEN for good (merging it failed on ``DELETED_AND_CHANGED``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from tests.e2e.served import ROOT

from .harness import Catalog, apply, category, delete_product, eventually, product, resource
from .proposals_harness import WRITER, change_requests, proposer


def start_controllers(catalog: Catalog, token: str, repo: str, identity: str) -> Any:
    env = {
        **os.environ,
        "GITSTORE_CONTROLLERS__API_URL": catalog.url,
        "GITSTORE_CONTROLLERS__TOKEN": token,
        "GITSTORE_CONTROLLERS__IDENTITY": identity,
        "GITSTORE_CONTROLLERS__LEASE_SECONDS": "2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gitstore", "controllers", "--repositories", repo,
         "--enabled", "quality"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def branches(catalog: Catalog, repo: str) -> list[str]:
    out = catalog.served.git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/proposals")
    return out.split()


async def test_a_proposal_of_a_product_deleted_while_no_controller_ran_is_closed(
    catalog: Catalog,
) -> None:
    repo = catalog.new_repository()
    owner, client = catalog.owner(), proposer(catalog)
    await apply(owner, repo, [category("shirts"), product("orphan-tee", categories=["shirts"])])
    token = catalog.served.data(WRITER, token=catalog.owner_token)["createAccessToken"]["secret"]
    first = start_controllers(catalog, token, repo, "replica-a")
    try:

        async def opened() -> Any:
            found = await change_requests(client, repo)
            return [cr for cr in found if cr["state"] == "OPEN"]

        (cr,) = await eventually(opened, what="the quality proposal", timeout=60)
        assert cr["sourceBranch"].startswith("proposals/quality/product-orphan-tee-")
        assert branches(catalog, repo) == [f"refs/heads/{cr['sourceBranch']}"]
    finally:
        first.send_signal(signal.SIGKILL)  # no lease release, no goodbye
        first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL

    await delete_product(owner, repo, "orphan-tee")

    async def deleted() -> bool:
        return await resource(client, repo, "orphan-tee") is None

    await eventually(deleted, what="the product gone from the resource store")
    second = start_controllers(catalog, token, repo, "replica-b")
    try:

        async def closed() -> Any:
            found = {c["id"]: c for c in await change_requests(client, repo)}
            return found[cr["id"]] if found[cr["id"]]["state"] == "CLOSED" else None

        done = await eventually(closed, what="the orphaned proposal closed", timeout=90)
        assert any("was deleted" in c["body"] for c in done["comments"])
        assert branches(catalog, repo) == []  # its proposal branch deleted with it
    finally:
        second.send_signal(signal.SIGTERM)
        _out, err = second.communicate(timeout=60)
        await owner.close()
        await client.close()
    assert second.returncode == 0, err
