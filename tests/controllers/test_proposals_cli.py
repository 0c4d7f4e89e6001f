"""``gitstore controllers --enabled quality,descriptions`` as an OS process: both AI
controllers wired in from settings (the model from ``GITSTORE_CONTROLLERS__MODEL_*``, a local
OpenAI-compatible server), each opening its proposal; ``descriptions`` without a model is
refused naming the setting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

from tests.e2e.served import ROOT

from .harness import Catalog, apply, category, eventually, product
from .proposals_harness import WRITER, change_requests, chat_server, proposer


async def test_gitstore_controllers_runs_the_ai_controllers(catalog: Catalog) -> None:
    repo = catalog.new_repository()
    owner, client = catalog.owner(), proposer(catalog)
    await apply(owner, repo, [category("shirts"), product("cli-tee", categories=["shirts"])])
    await owner.close()
    token = catalog.served.data(WRITER, token=catalog.owner_token)["createAccessToken"]["secret"]
    answer = json.dumps({"description": "A plain tee for every day, in the shirts range."})
    with chat_server(lambda _body: (200, answer)) as (url, seen):
        env = {
            **os.environ,
            "GITSTORE_CONTROLLERS__API_URL": catalog.url,
            "GITSTORE_CONTROLLERS__TOKEN": token,
            "GITSTORE_CONTROLLERS__MODEL_URL": url,
            "GITSTORE_CONTROLLERS__MODEL_NAME": "tiny-writer",
            "GITSTORE_CONTROLLERS__MODEL_KEY": "sk-cli",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitstore", "controllers", "--repositories", repo,
             "--enabled", "quality,descriptions"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        crs: list[dict[str, Any]] = []
        try:

            async def both() -> Any:
                crs[:] = await change_requests(client, repo)
                return len(crs) == 2

            await eventually(both, what="a proposal of each AI controller", timeout=30)
        except AssertionError as exc:
            proc.send_signal(signal.SIGTERM)
            raise AssertionError(proc.communicate(timeout=60)[1]) from exc
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    await client.close()
    assert proc.returncode == 0, err
    branches = sorted(cr["sourceBranch"].rsplit("-", 1)[0] for cr in crs)
    assert branches == [
        "proposals/descriptions/product-cli-tee",
        "proposals/quality/product-cli-tee",
    ]
    assert seen and seen[0]["authorization"] == "Bearer sk-cli"
    assert catalog.served.commit_count(repo) == 1  # main: only the owner's commit


def test_descriptions_without_a_model_is_refused(catalog: Catalog) -> None:
    env = {**os.environ, "GITSTORE_CONTROLLERS__TOKEN": "x"}
    env.pop("GITSTORE_CONTROLLERS__MODEL_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "gitstore", "controllers", "--repositories", "a/b",
         "--enabled", "quality,descriptions"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "GITSTORE_CONTROLLERS__MODEL_URL" in done.stderr and "descriptions" in done.stderr
