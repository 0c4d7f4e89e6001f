"""The informer relists on EXPIRED (a serve keeping only 3 changes per repository), and the
lease mutations: who may take a lease, and what ``held`` says."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gitstore.controllers import Conflict, Context
from gitstore.controllers.client import ApiClient, payload_of
from gitstore.controllers.errors import ApiError
from gitstore.controllers.informer import Informer
from gitstore.controllers.leader import ACQUIRE, LeaderElector
from tests.e2e.served import Served

from .harness import (
    Catalog,
    apply,
    category,
    eventually,
    good_spec,
    product,
    resource,
    start_catalog,
)


async def test_a_watch_from_a_version_too_old_relists(tmp_path: Path) -> None:
    env = {"GITSTORE_RESOURCES__RETAIN": "3", "GITSTORE_WATCH__WINDOW": "3"}
    served = Served.start(tmp_path / "data", env=env)
    try:
        catalog = start_catalog(served)
        repo = catalog.new_repository()
        owner, client = catalog.owner(), catalog.controller()
        names = ["a", "b", "c", "d", "e"]
        await apply(
            owner,
            repo,
            [category("shirts")] + [product(n, **good_spec(f"S-{n}")) for n in names],
        )
        informer = Informer(client, repo, "Product")
        ghost = {"kind": "Product", "metadata": {"name": "ghost", "resourceVersion": "1"}}
        informer.cache = {"ghost": ghost}  # what a stale cache held
        informer.resource_version = "1"  # long out of the window
        events: list[tuple[str, str]] = []
        informer.add_handler(lambda kind, obj: events.append((kind, obj["metadata"]["name"])))
        task = asyncio.ensure_future(informer.run())
        try:
            await eventually(lambda: _value(informer.relists >= 1), what="a relist")
            assert ("DELETED", "ghost") in events
            assert sorted(informer.cache) == names
            assert {n for kind, n in events if kind == "ADDED"} == set(names)
            assert int(informer.resource_version or 0) > 3
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await owner.close()
            await client.close()
    finally:
        assert served.stop() == 0


async def test_leases_need_the_status_right(catalog: Catalog) -> None:
    repo = catalog.new_repository()
    owner = catalog.owner()
    data = await owner.execute(
        'mutation { createAccessToken(input: {name: "ro", scopes: [READ]}) { secret } }'
    )
    await owner.close()
    read_only = ApiClient(catalog.url, data["createAccessToken"]["secret"])
    controller = catalog.controller()
    try:
        variables = {"input": {"repository": repo, "name": "x", "holder": "h", "leaseSeconds": 5}}
        with pytest.raises(ApiError) as denied:
            payload_of(await read_only.execute(ACQUIRE, variables), "acquireControllerLease")
        assert denied.value.code == "PERMISSION_DENIED"
        bad = {"input": {**variables["input"], "leaseSeconds": 0}}
        with pytest.raises(ApiError) as invalid:
            payload_of(await controller.execute(ACQUIRE, bad), "acquireControllerLease")
        assert invalid.value.code == "INVALID_ARGUMENT" and "leaseSeconds" in str(invalid.value)
        first = LeaderElector(controller, repo, "x", "one", lease_seconds=30)
        second = LeaderElector(controller, repo, "x", "two", lease_seconds=30)
        assert await first.try_acquire() is True
        assert await second.try_acquire() is False and second.holder == "one"
        await first.release()
        assert await second.try_acquire() is True
    finally:
        await read_only.close()
        await controller.close()


async def _value(value: Any) -> Any:
    return value


async def test_a_status_write_with_a_stale_version_is_a_conflict(catalog: Catalog) -> None:
    repo = catalog.new_repository()
    owner, client = catalog.owner(), catalog.controller()
    try:
        await apply(owner, repo, [category("shirts"), product("p", **good_spec(f"{repo}-p"))])
        obj = await eventually(lambda: resource(client, repo, "p"), what="p in the store")
        ctx = Context(client, repo, {})
        written = await ctx.update_status(obj, {"note": "first"})
        assert int(written["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])
        with pytest.raises(Conflict):
            await ctx.update_status(obj, {"note": "stale"})  # obj's version is the old one
        assert (await ctx.update_status(written, {"note": "second"}))["status"] == {
            "note": "second"
        }
    finally:
        await owner.close()
        await client.close()
