"""The descriptions controller (``descriptions``): a Product without ``spec.description`` gets
one written by a language model (``controllers/model.py``), proposed as a change request —
never written to the default branch, never trusted.

The prompt is made only from the product's own facts (title, vendor, type, categories, tags,
attributes) and asks for a JSON object ``{"description": "..."}``. The answer must be exactly
that (code fences around it are tolerated), the description 20 to 5,000 characters, and the
product with it must pass its kind's validation (schema, text rules) — else nothing is
proposed, the reason is logged and counted (``gitstore_controller_proposals_total``,
``action="rejected"``), and the product is not sent to the model again until it changes. The
model, the endpoint's host and the whole prompt are in the change request's description.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.validation import validate_manifest

from ..controller import Context
from ..errors import RetryableError
from ..metrics import ControllerMetrics
from ..model import ModelClient, ModelError
from ..proposals import Proposal, ProposalController, manifest_of

log = logging.getLogger("gitstore.controllers.descriptions")

MIN_CHARS, MAX_CHARS = 20, 5000
SYSTEM = (
    "You write product descriptions for an online shop. Use only the facts given; do not "
    "invent materials, sizes, prices or claims. Write 2 to 4 short sentences of plain text "
    'or simple Markdown. Answer with one JSON object and nothing else: {"description": "..."}'
)
FACTS = ("title", "vendor", "productType", "categories", "tags", "attributes")


class Rejected(ValueError):
    """A model answer that fails validation (the message says which rule)."""


def prompt_of(spec: dict[str, Any]) -> list[dict[str, str]]:
    facts = {key: spec[key] for key in FACTS if spec.get(key)}
    user = "Product facts (JSON):\n" + json.dumps(facts, sort_keys=True, ensure_ascii=False)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_answer(answer: str) -> str:
    """The description in a model answer, or :class:`Rejected` saying what is wrong."""
    text = answer.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Rejected("the answer is not a JSON object") from exc
    if not isinstance(data, dict) or set(data) != {"description"}:
        raise Rejected('the answer is not exactly {"description": "..."}')
    description = data["description"]
    if not isinstance(description, str):
        raise Rejected("description is not a string")
    description = description.strip()
    if not MIN_CHARS <= len(description) <= MAX_CHARS:
        raise Rejected(f"description has {len(description)} characters ({MIN_CHARS}-{MAX_CHARS})")
    return description


class DescriptionController(ProposalController):
    name = "descriptions"
    kind = "Product"

    def __init__(
        self,
        model: ModelClient,
        *,
        max_open: int = 50,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        super().__init__(max_open=max_open, metrics=metrics)
        self.model = model

    async def inputs(self, ctx: Context, obj: dict[str, Any]) -> Any | None:
        spec = obj.get("spec") or {}
        if spec.get("description") or not spec.get("title"):
            return None
        return {"model": self.model.model, "messages": prompt_of(spec)}

    async def propose(self, ctx: Context, obj: dict[str, Any], inputs: Any) -> Proposal | None:
        name = obj["metadata"]["name"]
        try:
            answer = await self.model.complete(inputs["messages"])
        except ModelError as exc:
            self.count("failed")
            raise RetryableError(str(exc)) from exc
        spec = {**(obj.get("spec") or {})}
        try:
            spec["description"] = parse_answer(answer)
            candidate = manifest_of(obj, spec)
            meta = candidate["metadata"]
            errors = validate_manifest(
                Manifest(
                    candidate["apiVersion"],
                    candidate["kind"],
                    name,
                    spec,
                    meta.get("labels", {}),
                    meta.get("annotations", {}),
                ),
                check_path=False,
            )
            if errors:
                raise Rejected("; ".join(e.message for e in errors))
        except Rejected as exc:
            self.count("rejected")
            log.warning("descriptions: model answer for product %s rejected: %s", name, exc)
            return None
        host = urlsplit(self.model.url).netloc
        prompt = "\n\n".join(f"**{m['role']}**: {m['content']}" for m in inputs["messages"])
        return Proposal(
            manifest=candidate,
            title=f"Description for {name} (written by {self.model.model})",
            explanation="- `spec.description`: missing; written by a language model from the "
            "product's own facts and checked against the Product schema. Read it before merging.",
            provenance=f"Model `{self.model.model}` at `{host}`. Prompt:\n\n{prompt}",
        )
