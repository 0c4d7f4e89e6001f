"""The split deployment survives its parts going away: each service restarts on its own.

One deployment of its own (``gitstore git-service`` + ``api`` + ``worker`` on PostgreSQL,
Redis and NATS, ``conftest.deployment("split", ...)``), driven with a stock ``git`` over SSH:

* the worker killed with SIGKILL: commits keep being accepted (the git service and the API do
  not need it); their events wait in the queue, and the restarted worker projects them;
* the API stopped: the git service cannot ask the API's hook service who a key belongs to, so
  the push is refused (fail closed) with a message that says so (an SSH auth banner) and
  nothing changes; with the API back (a new process, same hook port) the same push goes
  through;
* the git service stopped: the API answers with a clear ``UNAVAILABLE`` error instead of
  hanging, and works again once the service is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitstore.domain.content import bucket_for

from .conftest import PASSWORD, deployment, make_user
from .flows import (
    create_namespace,
    create_repository,
    ok,
    product_spec,
    upsert,
)
from .gitwork import Workspace, manifest
from .served import Served
from .test_git_native import LIVE_PRODUCT, register_key


@pytest.fixture
def split(tmp_path: Path) -> Iterator[Served]:
    with deployment("split", tmp_path / "data") as server:
        yield server


def visible(served: Served, repo: str, name: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        product = served.data(LIVE_PRODUCT, {"r": repo, "n": name})["catalog"]["product"]
        if product is not None:
            return dict(product)
        assert time.monotonic() < deadline, f"{name} never became visible"
        time.sleep(0.1)


def test_each_service_can_go_away_and_come_back(split: Served, tmp_path: Path) -> None:
    owner = make_user(split, "owner", admin=True)
    assert PASSWORD  # logged in by make_user
    create_namespace(split, owner.token, "shop")
    repo = create_repository(split, owner.token, "shop/catalog")
    work = Workspace(tmp_path / "work")
    key = work.ssh_key("owner")
    register_key(split, owner, key)
    env = work.ssh_env(key, split.ssh_port)
    clone = work.root / "clone"
    work.run("clone", "-q", f"ssh://git@127.0.0.1:{split.ssh_port}/{repo}.git", str(clone), env=env)

    # 1. the worker dies hard; writes go on, and are projected once it is back
    split.halt("worker", hard=True)
    done = ok(upsert(split, owner.token, repo, "while-down", product_spec("Made while down")))
    assert done["commit"] == split.head(repo)
    time.sleep(0.5)
    assert split.data(LIVE_PRODUCT, {"r": repo, "n": "while-down"})["catalog"]["product"] is None
    split.restart("worker")
    assert visible(split, repo, "while-down")["version"] == done["commit"]

    # 2. without the API nobody can approve a push: refused, nothing changes
    work.run("pull", "-q", "--rebase", "origin", "main", cwd=clone, env=env)
    # the repository was started by the API: fan-out layout (docs/content-model.md)
    work.write(clone, f"products/{bucket_for('pushed')}/pushed.yaml", manifest("pushed"))
    sha = work.commit_all(clone, "pushed while the API is down")
    before = split.head(repo)
    code = split.halt("api")
    assert code == 0, f"the API exited with {code}:\n{split.log[-6000:]}"
    told = {"GIT_SSH_COMMAND": env["GIT_SSH_COMMAND"].replace("LogLevel=ERROR", "LogLevel=INFO")}
    refused = work.attempt("push", "origin", "HEAD:main", cwd=clone, env=told)
    assert refused.returncode != 0
    assert "authentication service is unavailable" in refused.stderr, refused.stderr
    assert split.head(repo) == before
    split.restart("api")
    pushed = work.attempt("push", "origin", "HEAD:main", cwd=clone, env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert split.head(repo) == sha
    assert visible(split, repo, "pushed")["version"] == sha

    # 3. without the git service the API says so, quickly, and recovers with it
    split.halt("git-service")
    started = time.monotonic()
    body = split.gql(
        "mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { userErrors { code } } }",
        {"i": {"repository": repo, "name": "later", "spec": product_spec("Later")}},
        owner.token,
    )
    assert time.monotonic() - started < 60
    problems = body.get("errors") or body["data"]["upsertProduct"]["userErrors"]
    assert "UNAVAILABLE" in str(problems), body
    split.restart("git-service")
    # the API's channel finds it again at once (reconnect backoff capped, calls wait for it)
    ok(upsert(split, owner.token, repo, "later", product_spec("Later"), waitForIndex=True))
    assert visible(split, repo, "later")["title"] == "Later"
