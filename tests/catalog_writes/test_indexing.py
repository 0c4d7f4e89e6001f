"""The indexing handle and waitForIndex, with a stand-in projector moving the KV draft head.

(The worker is tested on its own; end-to-end tests with the real worker live elsewhere.)
"""

from __future__ import annotations

import threading
import time

from .harness import Stack
from .ops import APPLY, Person, mutate, ok, product_spec, upsert_product


def index_when_committed(stack: Stack, repo: str, after: str | None) -> threading.Thread:
    """In the background: once the branch moves past ``after``, index its new head."""

    def run() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            head = stack.git_head(repo)
            if head is not None and head != after:
                stack.advance_index(repo, head)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_wait_for_index_returns_once_the_projection_reached_the_commit(
    stack: Stack, owner: Person, repo: str
) -> None:
    projector = index_when_committed(stack, repo, None)
    payload = ok(
        upsert_product(stack.api, owner.token, repo, "p", waitForIndex=True, indexTimeout=20.0)
    )
    projector.join(30)
    assert payload["indexing"] == {
        "repository": repo,
        "commit": stack.git_head(repo),
        "state": "INDEXED",
    }
    text = stack.api.client.get("/metrics").text
    assert 'gitstore_api_index_wait_seconds_count{outcome="indexed"}' in text


def test_wait_for_index_times_out_as_pending(stack: Stack, owner: Person, repo: str) -> None:
    payload = ok(
        upsert_product(stack.api, owner.token, repo, "p", waitForIndex=True, indexTimeout=0.2)
    )
    assert payload["committed"] is True
    assert payload["indexing"]["state"] == "PENDING"
    assert payload["indexing"]["commit"] == stack.git_head(repo)


def test_a_later_head_counts_as_indexed(stack: Stack, owner: Person, repo: str) -> None:
    first = ok(upsert_product(stack.api, owner.token, repo, "p", idempotencyKey="idx-1"))
    assert first["indexing"]["state"] == "PENDING"
    second = ok(upsert_product(stack.api, owner.token, repo, "q"))["commit"]
    stack.advance_index(repo, second)
    # the replay of the first write waits for its commit, an ancestor of the indexed head
    again = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "p",
            idempotencyKey="idx-1",
            waitForIndex=True,
            indexTimeout=5.0,
        )
    )
    assert again["replayed"] is True
    assert again["indexing"] == {"repository": repo, "commit": first["commit"], "state": "INDEXED"}
    # without waitForIndex the state is looked up once
    unchanged = ok(upsert_product(stack.api, owner.token, repo, "q"))
    assert unchanged["committed"] is False
    assert unchanged["indexing"]["state"] == "INDEXED"


def test_writes_to_another_branch_are_not_indexed(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p"))
    main = stack.git_head(repo)
    manifest = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": "p"},
        "spec": product_spec(title="On a branch"),
    }
    payload = ok(
        mutate(
            stack.api,
            APPLY,
            {
                "repository": repo,
                "branch": "feature/x",
                "manifests": [{"manifest": manifest}],
                "waitForIndex": True,
                "indexTimeout": 5.0,
            },
            owner.token,
        )
    )
    assert payload["branch"] == "feature/x"
    assert payload["indexing"]["state"] == "PENDING"
    assert stack.git_head(repo) == main
    branch_head = stack.git_head(repo, "feature/x")
    assert payload["commit"] == branch_head
    assert stack.run_git(repo, "rev-parse", f"{branch_head}^").strip() == main
    assert payload["changes"][0]["changeType"] == "MODIFIED"
