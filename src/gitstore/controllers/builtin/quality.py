"""The catalogue-quality controller (``quality``): per Product, the fixes of
``domain/quality.py`` (SEO title and description, handle, compare-at prices) proposed as one
change request per product (``ProposalController``); never a write to the default branch.

The category title comes from the product's first category (``resource`` query; its name
when the category cannot be read), the handles of the other products from the informer's
cache, so the fixes are a function of the catalogue and the proposal's digest is stable.
"""

from __future__ import annotations

from typing import Any

from gitstore.domain.quality import Fix, apply_fixes, quality_fixes

from ..controller import Context
from ..metrics import ControllerMetrics
from ..proposals import Proposal, ProposalController, manifest_of

CATEGORY = """query($r: String!, $n: String!) {
  resource(repository: $r, kind: "Category", name: $n) { object } }"""


class QualityController(ProposalController):
    name = "quality"
    kind = "Product"

    def __init__(self, *, max_open: int = 50, metrics: ControllerMetrics | None = None) -> None:
        super().__init__(max_open=max_open, metrics=metrics)

    async def _category_title(self, ctx: Context, spec: dict[str, Any]) -> str | None:
        categories = spec.get("categories") or []
        if not categories or not isinstance(categories[0], str):
            return None
        first = categories[0]
        data = await ctx.client.execute(CATEGORY, {"r": ctx.repository, "n": first})
        found = data["resource"]
        title = ((found or {}).get("object") or {}).get("spec", {}).get("title")
        return title if isinstance(title, str) and title else first.replace("-", " ").title()

    async def _fixes(self, ctx: Context, obj: dict[str, Any]) -> list[Fix]:
        spec = obj.get("spec") or {}
        name = obj["metadata"]["name"]
        taken = {
            (other.get("spec") or {}).get("handle") or other_name
            for other_name, other in ctx.cache.items()
            if other_name != name
        }
        category = await self._category_title(ctx, spec)
        return quality_fixes(name, spec, category_title=category, taken_handles=taken)

    async def inputs(self, ctx: Context, obj: dict[str, Any]) -> Any | None:
        fixes = await self._fixes(ctx, obj)
        return [[fix.field, fix.value] for fix in fixes] or None

    async def propose(self, ctx: Context, obj: dict[str, Any], inputs: Any) -> Proposal | None:
        fixes = await self._fixes(ctx, obj)
        if [[fix.field, fix.value] for fix in fixes] != inputs:
            return None  # changed meanwhile: the next reconcile sees the new state
        spec = apply_fixes(obj.get("spec") or {}, fixes)
        fields = ", ".join(sorted({fix.field.split(".")[1].split("[")[0] for fix in fixes}))
        return Proposal(
            manifest=manifest_of(obj, spec),
            title=f"Catalogue quality: {obj['metadata']['name']} ({fields})",
            explanation="\n".join(f"- `{fix.field}`: {fix.reason}" for fix in fixes),
        )
