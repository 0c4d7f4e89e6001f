"""Idempotency keys: one commit per key, the first answer replayed, reuse refused."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from .harness import Stack
from .ops import UPSERT_PRODUCT, Person, ok, product_spec, upsert_product


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
