"""The descriptions controller through the model adapter, against a local OpenAI-compatible
server (real HTTP) and a real ``gitstore serve``: a valid answer becomes one change request
recording the model and the prompt; answers that fail validation open nothing and are
counted; the adapter retries a 503 and gives up with a clear error."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from gitstore.controllers.builtin.descriptions import DescriptionController, Rejected, parse_answer
from gitstore.controllers.manager import Manager
from gitstore.controllers.metrics import ControllerMetrics
from gitstore.controllers.model import ModelClient, ModelError

from .harness import Catalog, apply, category, eventually, good_spec, product
from .proposals_harness import change_requests, chat_server, proposer

GOOD = "A soft cotton tee in a relaxed fit, made for everyday wear."


def canned(body: dict[str, Any]) -> tuple[int, str]:
    facts = body["messages"][-1]["content"]
    if "Good" in facts:
        return 200, json.dumps({"description": GOOD})
    if "Chatty" in facts:
        return 200, "Sure! Here is a description: a lovely tee."
    return 200, json.dumps({"description": "Bell \u0007 characters are not text at all."})


async def test_model_descriptions_are_validated_before_proposing(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gitstore.controllers.descriptions")
    repo = catalog.new_repository()
    owner, client = catalog.owner(), proposer(catalog)
    await apply(
        owner,
        repo,
        [
            category("shirts"),
            product("good-tee", **good_spec("G-1")),
            product("chatty-tee", **good_spec("C-1")),
            product("bell-tee", **good_spec("B-1")),
            product("has-text", **good_spec("H-1", description="Already described.")),
        ],
    )
    metrics = ControllerMetrics()
    with chat_server(canned) as (url, seen):
        model = ModelClient(url, "sk-test", "tiny-writer", timeout=5, retries=0)
        controller = DescriptionController(model, metrics=metrics)
        manager = Manager(client, repo, [controller], metrics=metrics)
        await manager.start()
        try:

            async def rejected_two() -> Any:
                return (
                    metrics.registry.get_sample_value(
                        "gitstore_controller_proposals_total",
                        {"controller": "descriptions", "action": "rejected"},
                    )
                    == 2
                    and len(await change_requests(client, repo)) == 1
                )

            await eventually(rejected_two, what="one proposal, two rejected answers")
        finally:
            await manager.stop(5)
            await model.close()
    messages = [r.getMessage() for r in caplog.records]
    reasons = {m.split(" rejected: ")[0].rsplit(" ", 1)[1]: m for m in messages}
    assert "not a JSON object" in reasons["chatty-tee"]
    assert "control character U+0007" in reasons["bell-tee"]  # the schema/text validation
    # the product with a description was never sent; the key and the model name were
    assert len(seen) == 3
    assert {r["authorization"] for r in seen} == {"Bearer sk-test"}
    assert {r["model"] for r in seen} == {"tiny-writer"}
    [cr] = await change_requests(client, repo)
    assert cr["sourceBranch"].startswith("proposals/descriptions/product-good-tee-")
    [entry] = cr["diff"]
    assert [(f["path"], f["new"]) for f in entry["fields"]] == [("spec.description", GOOD)]
    assert "Model `tiny-writer`" in cr["description"]
    assert '"title": "Good-Tee"' in cr["description"]  # the prompt, recorded
    await owner.close()
    await client.close()


def test_parse_answer_rejects_what_is_not_a_description() -> None:
    assert parse_answer('```json\n{"description": "' + GOOD + '"}\n```') == GOOD
    for bad in ("plain text", '{"description": "short"}', '{"description": "x", "seo": 1}', "[]"):
        with pytest.raises(Rejected):
            parse_answer(bad)


async def test_adapter_retries_then_fails_clearly() -> None:
    calls: list[int] = []

    def flaky(_body: dict[str, Any]) -> tuple[int, str]:
        calls.append(1)
        return (503, "") if len(calls) == 1 else (200, "ok")

    with chat_server(flaky) as (url, _seen):
        model = ModelClient(url, None, "m", timeout=5, retries=1, backoff=0)
        assert await model.complete([{"role": "user", "content": "hi"}]) == "ok"
        assert len(calls) == 2
        calls.clear()
        calls.append(1)  # every call from now on: the second answer
        broken = ModelClient(url + "/nope", None, "m", timeout=5, retries=0)
        with pytest.raises(ModelError, match="answered HTTP 404"):
            await broken.complete([{"role": "user", "content": "hi"}])
        await model.close()
        await broken.close()
    with pytest.raises(ValueError, match="not an http"):
        ModelClient("ftp://x", None, "m")
