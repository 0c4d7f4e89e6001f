"""The controller runtime against a real ``gitstore serve``: retryable errors back off and
succeed, permanent errors are not retried, finalizers are added / run / removed, two replicas
elect one leader and the other takes over when the leader's lease lapses, and ``stop`` is
bounded even with a reconcile that never ends."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from gitstore.controllers import Context, PermanentError, Result, RetryableError, controller
from gitstore.controllers.manager import Manager

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


async def seeded(catalog: Catalog, names: list[str]) -> str:
    repo = catalog.new_repository()
    owner = catalog.owner()
    try:
        manifests = [category("shirts")]
        manifests += [product(n, **good_spec(f"{repo}-{n}".replace("/", "-"))) for n in names]
        await apply(owner, repo, manifests)
    finally:
        await owner.close()
    return repo


async def test_retryable_errors_back_off_then_succeed_permanent_ones_stop(
    catalog: Catalog,
) -> None:
    repo = await seeded(catalog, ["flaky", "broken", "fine"])
    attempts: Counter[str] = Counter()

    @controller(kind="Product")
    async def picky(ctx: Context, obj: dict[str, Any]) -> Result | None:
        name = obj["metadata"]["name"]
        attempts[name] += 1
        if name == "flaky" and attempts[name] <= 3:
            raise RetryableError("not yet")
        if name == "broken":
            raise PermanentError("cannot ever")
        return None

    client = catalog.controller()
    manager = Manager(client, repo, [picky], lease_seconds=5, queue_options={"base_delay": 0.05})
    await manager.start()
    runner = manager.runner("picky")
    try:
        await eventually(lambda: _value(attempts["flaky"] == 4), what="flaky to succeed")
        await eventually(lambda: _value(attempts["fine"] == 1), what="fine")
        await asyncio.sleep(0.5)  # room for wrong retries of "broken" to show up
        assert attempts["broken"] == 1
        assert attempts["flaky"] == 4 and runner.queue.failures("flaky") == 0  # forgotten
        errors = manager.metrics.registry.get_sample_value(
            "gitstore_controller_reconcile_errors_total",
            {"controller": "picky", "kind": "retryable"},
        )
        assert errors == 3
        assert (
            manager.metrics.registry.get_sample_value(
                "gitstore_controller_reconcile_errors_total",
                {"controller": "picky", "kind": "permanent"},
            )
            == 1
        )
    finally:
        await manager.stop(5)
        await client.close()


async def test_finalizer_is_added_cleanup_runs_on_delete_then_it_is_removed(
    catalog: Catalog,
) -> None:
    repo = await seeded(catalog, ["keep", "gone"])
    cleaned: list[str] = []

    async def cleanup(ctx: Context, obj: dict[str, Any]) -> None:
        assert obj["metadata"]["deletionTimestamp"]
        cleaned.append(obj["metadata"]["name"])

    @controller(kind="Product", finalizer="test.gitstore.dev/cleanup", cleanup=cleanup)
    async def guarded(ctx: Context, obj: dict[str, Any]) -> None:
        return None

    client, owner = catalog.controller(), catalog.owner()
    manager = Manager(client, repo, [guarded], lease_seconds=5)
    await manager.start()
    try:
        for name in ("keep", "gone"):

            async def finalized(name: str = name) -> Any:
                obj = await resource(client, repo, name)
                return obj and obj["metadata"]["finalizers"] == ["test.gitstore.dev/cleanup"]

            await eventually(finalized, what=f"the finalizer on {name}")
        await delete_product(owner, repo, "gone")

        async def removed() -> bool:
            return await resource(client, repo, "gone") is None

        await eventually(removed, what="gone to be removed after cleanup")
        assert cleaned == ["gone"]
        assert await resource(client, repo, "keep") is not None
    finally:
        await manager.stop(5)
        await client.close()
        await owner.close()


async def test_one_leader_reconciles_and_a_follower_takes_over_a_lapsed_lease(
    catalog: Catalog,
) -> None:
    repo = await seeded(catalog, ["a", "b", "c"])
    seen: list[tuple[str, str, int]] = []

    def recorder(identity: str) -> Any:
        @controller(kind="Product", name="recorder")
        async def record(ctx: Context, obj: dict[str, Any]) -> None:
            meta = obj["metadata"]
            seen.append((identity, meta["name"], meta["generation"]))

        return record

    clients = [catalog.controller(), catalog.controller()]
    managers = [
        Manager(c, repo, [recorder(who)], identity=who, lease_seconds=1.0, renew_every=0.2)
        for c, who in zip(clients, ("one", "two"), strict=True)
    ]
    owner = catalog.owner()
    try:
        for m in managers:
            await m.start()
        await eventually(lambda: _value(len({n for _, n, _ in seen}) == 3), what="all reconciled")
        await asyncio.gather(*(m.wait_synced() for m in managers))
        await asyncio.sleep(0.6)  # several renewals: the follower must stay a follower
        leaders = {who for who, _, _ in seen}
        assert len(leaders) == 1, seen
        [leader] = [m for m in managers if m.identity in leaders]
        [follower] = [m for m in managers if m is not leader]
        assert leader.elector.leading.is_set() and not follower.elector.leading.is_set()

        # the leader dies without releasing: its lease lapses, the follower takes over
        for task in leader._tasks:
            task.cancel()
        await asyncio.gather(*leader._tasks, return_exceptions=True)
        leader._tasks.clear()
        await apply(
            owner, repo, [product("a", **good_spec(f"{repo}-a".replace("/", "-"), vendor="x"))]
        )
        await eventually(
            lambda: _value((follower.identity, "a", 2) in seen), what="the follower to take over"
        )
        assert follower.elector.leading.is_set()
        assert not [s for s in seen if s[0] == leader.identity and s[2] == 2]
    finally:
        for m in managers:
            await m.stop(5)
        for c in clients:
            await c.close()
        await owner.close()


async def test_stop_is_bounded_and_cancels_a_reconcile_that_never_ends(catalog: Catalog) -> None:
    repo = await seeded(catalog, ["stuck"])
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @controller(kind="Product")
    async def forever(ctx: Context, obj: dict[str, Any]) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    client = catalog.controller()
    manager = Manager(client, repo, [forever], lease_seconds=5)
    await manager.start()
    try:
        await asyncio.wait_for(started.wait(), 60)
    finally:
        await asyncio.wait_for(manager.stop(deadline=0.2), 30)
        await client.close()
    assert cancelled.is_set()
    assert manager._tasks == []
    # the lease was released on the way out: another replica could lead at once
    assert not manager.elector.leading.is_set()


async def _value(value: bool) -> bool:
    return value
