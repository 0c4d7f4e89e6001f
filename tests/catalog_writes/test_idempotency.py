"""Idempotency keys: one commit per key, the first answer replayed, reuse refused."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx

from .harness import Stack
from .ops import UPSERT_PRODUCT, Person, fan, ok, product_spec, upsert_product


def test_same_key_same_input_replays_the_first_answer(
    stack: Stack, owner: Person, repo: str
) -> None:
    first = ok(
        upsert_product(
            stack.api, owner.token, repo, "once", idempotencyKey="k-1", clientMutationId="a"
        )
    )
    # clientMutationId and waitForIndex are not part of the input's identity
    second = ok(
        upsert_product(
            stack.api, owner.token, repo, "once", idempotencyKey="k-1", clientMutationId="b"
        )
    )
    assert second["replayed"] is True and first["replayed"] is False
    assert second["commit"] == first["commit"] and second["committed"] is True
    assert second["changes"] == first["changes"]
    assert second["product"] == first["product"]
    assert second["clientMutationId"] == "b"
    assert stack.commit_count(repo) == 1


def test_replay_after_later_commits_still_answers_the_first(
    stack: Stack, owner: Person, repo: str
) -> None:
    first = ok(upsert_product(stack.api, owner.token, repo, "p", idempotencyKey="k-2"))
    ok(upsert_product(stack.api, owner.token, repo, "other"))
    again = ok(upsert_product(stack.api, owner.token, repo, "p", idempotencyKey="k-2"))
    assert again["commit"] == first["commit"]
    assert stack.commit_count(repo) == 2


def test_same_key_different_input_is_refused(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p", idempotencyKey="k-3"))
    head = stack.git_head(repo)
    payload = upsert_product(
        stack.api,
        owner.token,
        repo,
        "p",
        spec=product_spec(title="Changed"),
        idempotencyKey="k-3",
    )
    assert payload["userErrors"] == [
        {
            "field": "idempotencyKey",
            "message": "idempotencyKey 'k-3' was already used with a different input; use a"
            " new key for a new change",
            "code": "IDEMPOTENCY_KEY_REUSED",
        }
    ]
    assert stack.git_head(repo) == head


def test_keys_belong_to_one_caller(stack: Stack, owner: Person, repo: str) -> None:
    """Another user with write access using the same key is a different key."""
    ok(upsert_product(stack.api, owner.token, repo, "p", idempotencyKey="shared"))
    admin_user, admin_token = stack.api.user_token(admin=True)
    payload = ok(
        upsert_product(
            stack.api,
            admin_token,
            repo,
            "q",
            idempotencyKey="shared",
        )
    )
    assert payload["replayed"] is False and stack.commit_count(repo) == 2
    assert stack.trailers(repo)["Actor"] == admin_user.username


def test_a_failed_first_attempt_releases_the_key(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p"))
    stale = "0" * 39 + "1"
    failed = upsert_product(
        stack.api,
        owner.token,
        repo,
        "p",
        idempotencyKey="k-4",
        expectedVersion=stale,
        spec=product_spec(title="New"),
    )
    assert failed["userErrors"][0]["field"] == "expectedVersion"
    head = stack.git_head(repo)
    retried = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "p",
            idempotencyKey="k-4",
            expectedVersion=head,
            spec=product_spec(title="New"),
        )
    )
    assert retried["committed"] is True and retried["replayed"] is False


def test_twenty_concurrent_retries_make_exactly_one_commit(
    stack: Stack, owner: Person, repo: str
) -> None:
    variables = {
        "input": {
            "repository": repo,
            "name": "contended",
            "spec": product_spec(title="Contended"),
            "idempotencyKey": "burst-1",
        }
    }
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(20)
    lock = threading.Lock()

    def retry() -> None:
        try:
            with httpx.Client(base_url=stack.api.base_url, timeout=60) as client:
                start.wait()
                response = client.post(
                    "/graphql",
                    json={"query": UPSERT_PRODUCT, "variables": variables},
                    headers={"Authorization": f"Bearer {owner.token}"},
                )
            body = response.json()
            with lock:
                answers.append(body["data"]["upsertProduct"])
        except BaseException as exc:  # reported below
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert len(answers) == 20
    assert all(a["userErrors"] == [] for a in answers), answers
    assert stack.commit_count(repo) == 1
    commits = {a["commit"] for a in answers}
    assert commits == {stack.git_head(repo)}
    assert sum(1 for a in answers if not a["replayed"]) == 1
    assert stack.trailers(repo)["Idempotency-Key"] == "burst-1"


def leave_claim_of_a_dead_owner(stack: Stack, key: str) -> None:
    """Put the key back in the state a ``kill -9`` of the API leaves it in: claimed by an
    owner that never completes it or extends its lease (which has run out)."""
    path = Path(stack.settings.data_dir) / "metadata.sqlite3"
    with sqlite3.connect(path, timeout=30) as conn:
        changed = conn.execute(
            "UPDATE idempotency_keys SET response = NULL, owner = 'dead-api', lease_until = 0"
            " WHERE key = ?",
            (key,),
        ).rowcount
    assert changed == 1


def test_a_key_left_claimed_by_a_dead_owner_whose_commit_landed_answers_that_commit(
    stack: Stack, owner: Person, repo: str
) -> None:
    """The API died after its commit landed, before it stored the answer: the retry takes
    over the expired claim, finds the commit by its Idempotency-Key trailer and answers it
    (no 30 s wait, no ABORTED, no second commit)."""
    first = ok(upsert_product(stack.api, owner.token, repo, "crash", idempotencyKey="dead-1"))
    ok(upsert_product(stack.api, owner.token, repo, "later"))  # the branch moved on since
    leave_claim_of_a_dead_owner(stack, "dead-1")
    again = ok(upsert_product(stack.api, owner.token, repo, "crash", idempotencyKey="dead-1"))
    assert again["commit"] == first["commit"] and again["committed"] is True
    assert again["replayed"] is True
    assert again["changes"] == first["changes"]
    assert again["product"] == first["product"]
    assert stack.commit_count(repo) == 2
    # the key is completed with that answer: the next retry replays it at once
    third = ok(upsert_product(stack.api, owner.token, repo, "crash", idempotencyKey="dead-1"))
    assert third["commit"] == first["commit"] and stack.commit_count(repo) == 2


def test_a_key_left_claimed_by_a_dead_owner_without_a_commit_commits_once(
    stack: Stack, owner: Person, repo: str
) -> None:
    """The API died after claiming the key, before its commit: the retry takes over and
    commits, exactly once."""
    base = ok(upsert_product(stack.api, owner.token, repo, "base"))["commit"]
    landed = ok(upsert_product(stack.api, owner.token, repo, "crash", idempotencyKey="dead-2"))
    # undo that commit: the dead owner never got that far
    stack.run_git(repo, "update-ref", "refs/heads/main", base, landed["commit"])
    leave_claim_of_a_dead_owner(stack, "dead-2")
    again = ok(upsert_product(stack.api, owner.token, repo, "crash", idempotencyKey="dead-2"))
    assert again["committed"] is True and again["replayed"] is False
    assert again["commit"] == stack.git_head(repo) != landed["commit"]
    assert stack.commit_count(repo) == 2
    assert stack.trailers(repo)["Idempotency-Key"] == "dead-2"
    assert fan("products/crash.yaml") in stack.files(repo)
    third = ok(upsert_product(stack.api, owner.token, repo, "crash", idempotencyKey="dead-2"))
    assert third["replayed"] is True and third["commit"] == again["commit"]
    assert stack.commit_count(repo) == 2
