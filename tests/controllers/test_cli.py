"""``gitstore controllers`` as an OS process against a running ``gitstore serve``, and
``serve`` itself running the built-ins once given a controller token and repositories."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.served import ROOT, Served

from .harness import (
    Catalog,
    apply,
    category,
    eventually,
    good_spec,
    product,
    ready_of,
    resource,
    start_catalog,
)


async def ready(catalog: Catalog, repo: str, name: str) -> dict[str, Any]:
    client = catalog.controller()
    try:

        async def check() -> Any:
            return ready_of(await resource(client, repo, name))

        condition: dict[str, Any] = await eventually(check, what=f"Ready on {name}")
        return condition
    finally:
        await client.close()


async def test_gitstore_controllers_runs_the_builtins_and_stops_on_sigterm(
    catalog: Catalog,
) -> None:
    repo = catalog.new_repository()
    owner = catalog.owner()
    await apply(owner, repo, [category("shirts"), product("cli", **good_spec(f"{repo}-cli"))])
    await owner.close()
    env = {
        **os.environ,
        "GITSTORE_CONTROLLERS__API_URL": catalog.url,
        "GITSTORE_CONTROLLERS__TOKEN": catalog.controller_token,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitstore", "controllers", "--repositories", repo,
         "--enabled", "readiness"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        condition = await ready(catalog, repo, "cli")
        assert (condition["status"], condition["reason"]) == ("True", "Ready")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "controllers stopped" in err


def test_an_unknown_controller_name_is_refused_by_name(catalog: Catalog) -> None:
    env = {**os.environ, "GITSTORE_CONTROLLERS__TOKEN": "x"}
    done = subprocess.run(
        [sys.executable, "-m", "gitstore", "controllers", "--repositories", "a/b",
         "--enabled", "readiness,nope"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "GITSTORE_CONTROLLERS__ENABLED" in done.stderr and "nope" in done.stderr


async def test_serve_runs_the_controllers_with_a_token(tmp_path: Path) -> None:
    served = Served.start(tmp_path / "data")
    try:
        catalog = start_catalog(served)
        repo = catalog.new_repository()
        served.env["GITSTORE_CONTROLLERS__TOKEN"] = catalog.controller_token
        served.env["GITSTORE_CONTROLLERS__REPOSITORIES"] = repo
        served.env["GITSTORE_CONTROLLERS__ENABLED"] = "readiness"
        served.restart("serve")
        catalog.served = served
        owner = catalog.owner()
        await apply(owner, repo, [category("shirts"), product("p", **good_spec("S-1"))])
        await owner.close()
        condition = await ready(catalog, repo, "p")
        assert condition["status"] == "True"
        assert "controllers readiness started" in served.log
    finally:
        assert served.stop() == 0, served.log[-3000:]
