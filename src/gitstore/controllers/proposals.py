"""A controller kind that proposes ``.spec`` changes as change requests and never writes the
default branch (docs/controllers.md, "AI controllers").

Subclass :class:`ProposalController`, set ``name`` and ``kind``, and implement

* ``inputs(ctx, obj)``: ``None`` when the object needs nothing, else a JSON value that
  determines the proposal (for a deterministic fix: the fix itself; for a model: the model and
  the prompt). Its digest names the proposal;
* ``propose(ctx, obj, inputs)``: the :class:`Proposal` (the whole changed manifest, a title,
  an explanation), or ``None`` to open nothing (e.g. a model answer that failed validation).
  Only called when no request for that digest exists, so a model is not asked again for a
  proposal that is already open (or was closed by a person).

One reconcile per object, per resource one branch ``proposals/<controller>/<kind>-<name>-<digest>``
and one change request from it into the default branch:

* no request from that branch yet (in any state) → write the manifest to the branch
  (``applyManifests(branch:)``; a new branch starts at the default branch's head) and open
  the request with the explanation in its description;
* one exists (OPEN, MERGED or CLOSED) → nothing: the same proposal is never opened twice, and
  a person's "no" (closed) stands;
* OPEN requests of this controller for the same resource from *another* digest are stale (the
  resource changed, so the proposal was recomputed): closed with a comment naming the new one;
* ``inputs`` is ``None`` now (the fix is in, or no longer applies) → its OPEN requests are
  closed with a comment saying so; likewise when the resource is deleted (``gone``).

At most ``max_open`` requests of a controller are open in a repository (counted under a lock
per repository, as workers reconcile objects concurrently); beyond that nothing new is opened
(counted as ``capped``) and the object is looked at again after ``CAP_RETRY_SECONDS``. The cap is
checked before ``propose`` too, so a model is not asked for what would not be opened.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from gitstore.domain.content.diff import diff_values

from .change_requests import ChangeRequestRef, ChangeRequests
from .controller import Context, Controller, Result
from .metrics import ControllerMetrics

log = logging.getLogger("gitstore.controllers.proposals")

PREFIX = "proposals"
DIGEST_LENGTH = 12
CAP_RETRY_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Proposal:
    """The whole proposed manifest, the request's title, why (Markdown, one line per change is
    best) and optionally where it came from (model, prompt)."""

    manifest: dict[str, Any]
    title: str
    explanation: str
    provenance: str = ""


def digest_of(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]


def manifest_of(obj: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a watched object (as list/watch return it) with ``spec`` replaced."""
    meta = obj["metadata"]
    metadata: dict[str, Any] = {"name": meta["name"]}
    for key in ("labels", "annotations"):
        if meta.get(key):
            metadata[key] = dict(meta[key])
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": metadata,
        "spec": spec,
    }


class ProposalController(Controller):
    """Proposes instead of writing; see the module docstring."""

    def __init__(self, *, max_open: int = 50, metrics: ControllerMetrics | None = None) -> None:
        self.max_open = max_open
        self.metrics = metrics
        self._requests: dict[str, ChangeRequests] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def inputs(self, ctx: Context, obj: dict[str, Any]) -> Any | None:
        raise NotImplementedError

    async def propose(self, ctx: Context, obj: dict[str, Any], inputs: Any) -> Proposal | None:
        raise NotImplementedError

    def count(self, action: str) -> None:
        if self.metrics is not None:
            self.metrics.proposals.labels(self.name, action).inc()

    def prefix(self) -> str:
        return f"{PREFIX}/{self.name}/"

    def resource_of(self, branch: str) -> str:
        """``proposals/quality/product-blue-shirt-<digest>`` -> ``product-blue-shirt``."""
        return branch[len(self.prefix()) :].rpartition("-")[0]

    async def reconcile(self, ctx: Context, obj: dict[str, Any]) -> Result | None:
        crs = self._requests.setdefault(ctx.repository, ChangeRequests(ctx.client, ctx.repository))
        resource = f"{obj['kind'].lower()}-{obj['metadata']['name']}"
        default = await crs.default_branch()
        inputs = await self.inputs(ctx, obj)
        everything = await crs.find(self.prefix())
        mine = [cr for cr in everything if self.resource_of(cr.source_branch) == resource]
        open_mine = [cr for cr in mine if cr.state == "OPEN"]
        if inputs is None:
            for cr in open_mine:
                await crs.close(
                    cr,
                    f"Closed by the `{self.name}` controller: {obj['kind']} "
                    f"`{obj['metadata']['name']}` on `{default}` no longer needs this change "
                    "(it is in already, or the resource changed so that it no longer applies).",
                )
                self.count("closed")
                log.info("%s: closed !%d (no longer needed)", self.name, cr.number)
            return None
        digest = digest_of({"kind": obj["kind"], "name": obj["metadata"]["name"], "in": inputs})
        branch = f"{self.prefix()}{resource}-{digest}"
        stale = [cr for cr in open_mine if cr.source_branch != branch]
        if any(cr.source_branch == branch for cr in mine):
            await self._supersede(crs, stale, None, obj)
            return None
        if sum(1 for cr in everything if cr.state == "OPEN") - len(stale) >= self.max_open:
            return self._capped(resource)  # before asking a model for something not opened
        proposal = await self.propose(ctx, obj, inputs)
        if proposal is None:
            return None
        assert branch != default
        if not diff_values(obj.get("spec") or {}, proposal.manifest["spec"]):
            return None
        async with self._locks.setdefault(ctx.repository, asyncio.Lock()):
            # counted again under the lock: workers reconcile other objects concurrently
            everything = await crs.find(self.prefix(), "OPEN")
            open_all = len(everything) - len(stale)
            if open_all >= self.max_open:
                return self._capped(resource)
            await crs.write_branch(branch, [proposal.manifest], f"{proposal.title}\n\n{digest}")
            description = self.describe(obj, proposal, branch, default)
            cr = await crs.create(branch, proposal.title, description)
        self.count("opened")
        log.info("%s: opened !%d for %s (%s)", self.name, cr.number, resource, branch)
        await self._supersede(crs, stale, cr, obj)
        return None

    def _capped(self, resource: str) -> Result:
        self.count("capped")
        log.info("%s: %d proposals open (the cap); %s waits", self.name, self.max_open, resource)
        return Result(requeue_after=CAP_RETRY_SECONDS)

    async def held(self, ctx: Context) -> list[str]:
        """The resources with OPEN proposals of this controller (their names)."""
        crs = self._requests.setdefault(ctx.repository, ChangeRequests(ctx.client, ctx.repository))
        kind = f"{self.kind.lower()}-"
        names = {self.resource_of(cr.source_branch) for cr in await crs.find(self.prefix(), "OPEN")}
        return sorted(n[len(kind) :] for n in names if n.startswith(kind))

    async def gone(self, ctx: Context, name: str) -> None:
        """The resource was deleted: its open proposals cannot be merged any more."""
        crs = self._requests.setdefault(ctx.repository, ChangeRequests(ctx.client, ctx.repository))
        resource = f"{self.kind.lower()}-{name}"
        for cr in await crs.find(self.prefix(), "OPEN"):
            if self.resource_of(cr.source_branch) == resource:
                await crs.close(
                    cr,
                    f"Closed by the `{self.name}` controller: {self.kind} `{name}` was deleted "
                    "from the default branch.",
                )
                self.count("closed")

    async def _supersede(
        self,
        crs: ChangeRequests,
        stale: list[ChangeRequestRef],
        new: ChangeRequestRef | None,
        obj: dict[str, Any],
    ) -> None:
        for cr in stale:
            by = f" by !{new.number}" if new is not None else ""
            await crs.close(
                cr,
                f"Superseded{by}: {obj['kind']} `{obj['metadata']['name']}` changed, so the "
                f"`{self.name}` controller recomputed its proposal.",
            )
            self.count("superseded")

    def describe(self, obj: dict[str, Any], proposal: Proposal, branch: str, default: str) -> str:
        changes = diff_values(obj.get("spec") or {}, proposal.manifest["spec"])
        lines = [
            f"Proposed by the `{self.name}` controller. It never writes `{default}`: review "
            "the diff, then merge it or close it (a closed proposal is not opened again).",
            "",
            f"**{obj['kind']} `{obj['metadata']['name']}`**",
            "",
            proposal.explanation,
            "",
            "| field | before | after |",
            "|---|---|---|",
        ]
        for change in changes:
            old = "—" if change.op == "added" else json.dumps(change.old, ensure_ascii=False)
            new = "—" if change.op == "removed" else json.dumps(change.new, ensure_ascii=False)
            lines.append(f"| `spec.{change.path}` | {old} | {new} |")
        if proposal.provenance:
            lines += ["", proposal.provenance]
        lines += ["", f"Branch `{branch}` (the digest names the proposal)."]
        return "\n".join(lines)
