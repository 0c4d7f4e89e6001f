"""Product readiness: keeps a ``Ready`` condition on every Product's status.

For each product it computes the condition from the spec (``domain/readiness.py``: reasons
``NotActive``, ``MissingCategory``, ``MissingPrice``, ``MissingSKU``, ``PriceBelowCost``),
sets ``status.observedGeneration`` to the generation it looked at, and writes the status
with ``updateProductStatus`` carrying the object's resourceVersion (CONFLICT: the runtime
retries after the key's backoff and the next reconcile reads the newer object). A product
whose status already says this for this generation is not written again (level-triggered,
idempotent).
"""

from __future__ import annotations

from typing import Any

from gitstore.domain.readiness import READY, readiness_status

from ..client import payload_of
from ..controller import Context, Controller, Result

UPDATE = """
mutation($input: UpdateProductStatusInput!) {
  updateProductStatus(input: $input) { resource { object } userErrors { field message code } }
}"""


def _same(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether ``current`` already says what ``wanted`` does (ignoring the server-owned
    ``lastTransitionTime``)."""

    def strip(status: dict[str, Any]) -> Any:
        conditions = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in status.get("conditions") or []
            if isinstance(c, dict)
        ]
        return {**status, "conditions": conditions}

    return bool(strip(current) == strip(wanted))


class ReadinessController(Controller):
    name = "readiness"
    kind = "Product"

    def __init__(self) -> None:
        self.writes = 0  # statuses written (reconciles that changed something)

    async def reconcile(self, ctx: Context, obj: dict[str, Any]) -> Result | None:
        meta = obj["metadata"]
        current = obj.get("status") or {}
        wanted = readiness_status(current, obj.get("spec") or {}, int(meta["generation"]))
        if _same(current, wanted):
            return None
        data = await ctx.client.execute(
            UPDATE,
            {
                "input": {
                    "repository": ctx.repository,
                    "name": meta["name"],
                    "resourceVersion": meta["resourceVersion"],
                    "status": wanted,
                }
            },
        )
        written = payload_of(data, "updateProductStatus")["resource"]["object"]
        ctx.remember(written)  # so the watch's echo of this write finds nothing to do
        self.writes += 1
        return None


__all__ = ["READY", "ReadinessController"]
