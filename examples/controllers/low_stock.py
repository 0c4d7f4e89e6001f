"""A complete controller: flag products whose variants are low on stock.

Run it against ``make serve`` (see docs/controllers.md for the token and repository):

    GITSTORE_API_URL=http://127.0.0.1:8080 GITSTORE_TOKEN=<controller token> \
        python examples/controllers/low_stock.py acme/catalog

For every Product it sets a ``LowStock`` condition (``True`` when any variant has fewer than
``THRESHOLD`` units in ``inventoryQuantity``) next to the conditions other controllers keep,
with ``observedGeneration``. It runs until Ctrl-C / SIGTERM; ``--once`` stops after every
product present at start has been reconciled (used by the test of this example).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import Any

from gitstore.controllers import ApiClient, Context, Manager, Result, controller

THRESHOLD = 5


def low_stock_condition(spec: dict[str, Any], generation: int) -> dict[str, Any]:
    low = [
        str(v.get("sku"))
        for v in spec.get("variants") or []
        if int(v.get("inventoryQuantity", 0)) < THRESHOLD
    ]
    return {
        "type": "LowStock",
        "status": "True" if low else "False",
        "reason": "BelowThreshold" if low else "Stocked",
        "message": f"below {THRESHOLD}: {', '.join(low)}" if low else "every variant stocked",
        "observedGeneration": generation,
    }


reconciled: set[str] = set()


@controller(kind="Product", name="low-stock")
async def low_stock(ctx: Context, obj: dict[str, Any]) -> Result | None:
    meta, status = obj["metadata"], dict(obj.get("status") or {})
    wanted = low_stock_condition(obj.get("spec") or {}, meta["generation"])
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "LowStock"]
    current = next((c for c in status.get("conditions") or [] if c.get("type") == "LowStock"), None)
    if current is None or {k: current.get(k) for k in wanted} != wanted:
        # resourceVersion precondition: a concurrent change raises Conflict -> requeued
        await ctx.update_status(obj, {**status, "conditions": [*conditions, wanted]})
    reconciled.add(meta["name"])
    return Result(requeue_after=300)  # look again every 5 minutes even without changes


async def main() -> None:
    parser = argparse.ArgumentParser(description="flag products low on stock")
    parser.add_argument("repository", help="namespace/repo")
    parser.add_argument("--once", action="store_true", help="stop once all are reconciled")
    args = parser.parse_args()
    url = os.environ.get("GITSTORE_API_URL", "http://127.0.0.1:8080")
    client = ApiClient(url, os.environ["GITSTORE_TOKEN"])
    manager = Manager(client, args.repository, [low_stock])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await manager.start()
    try:
        if args.once:
            await manager.wait_synced()
            names = set(manager.runner("low-stock").informer.cache)
            while not names <= reconciled and not stop.is_set():
                await asyncio.sleep(0.05)
            print(f"reconciled {len(names)} products")  # noqa: T201 - the example reports
        else:
            await stop.wait()
    finally:
        await manager.stop(deadline=10)
        await client.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main())
