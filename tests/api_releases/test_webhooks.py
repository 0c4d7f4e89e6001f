"""Webhooks end to end: a real receiver on 127.0.0.1 gets a correctly signed
``release.published`` POST when a publication completes; a receiver answering 500 is retried
with backoff and the delivery ends FAILED after ``webhook.max_attempts`` (3 here); deliveries
are queryable; registration checks URLs and permissions; a paused webhook gets no deliveries
and a resumed one does, signed with a rotated secret (the old one no longer verifies)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

from tests.catalog_writes.harness import Stack

from .harness import QueueView, receiver, wait_for
from .ops import (
    DELETE_WEBHOOK,
    ROTATE_WEBHOOK_SECRET,
    UPDATE_WEBHOOK,
    Person,
    add_member,
    create_release,
    error_of,
    make_repository,
    mutate,
    ok,
    person,
    register,
    webhooks,
)


def _verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (docs/releases.md)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_a_published_release_is_posted_signed_to_the_webhook(
    stack: Stack, owner: Person, repo: str, queue: QueueView
) -> None:
    with receiver(200) as hook:
        registered = ok(register(stack.api, owner.token, repo, hook.url, "storefront"))
        secret = registered["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        assert registered["webhook"]["url"] == hook.url
        assert registered["webhook"]["createdBy"] == owner.username
        ok(create_release(stack.api, owner.token, repo, "v1"))
        (event,) = queue.requests(repo)
        queue.report(event, previous_commit="", changed=("product/p", "category/c"))
        wait_for(hook.count, "the webhook POST")
        (request,) = hook.requests
        headers = {key.lower(): value for key, value in request.headers.items()}
        assert request.path == "/hooks/gitstore"
        assert headers["content-type"] == "application/json"
        assert headers["x-gitstore-event"] == "release.published"
        assert _verify(secret, request.body, headers["x-gitstore-signature-256"])
        assert not _verify(secret + "x", request.body, headers["x-gitstore-signature-256"])
        payload = json.loads(request.body)
        assert payload["event"] == "release.published"
        assert payload["repository"] == repo and payload["channel"] == "live"
        assert payload["release"] == {"tag": "v1", "commit": event.commit, "sequence": 1}
        assert payload["previousCommit"] is None
        assert payload["changed"] == ["product/p", "category/c"]
        assert datetime.fromisoformat(payload["publishedAt"]).tzinfo is not None

        def delivered() -> dict[str, object] | None:
            (webhook,) = webhooks(stack.api, owner.token, repo)
            nodes = webhook["deliveries"]["nodes"]
            return nodes[0] if nodes and nodes[0]["state"] == "SUCCEEDED" else None

        delivery = wait_for(delivered, "the delivery to be SUCCEEDED")
        assert delivery["id"] == headers["x-gitstore-delivery"]
        assert delivery["attempts"] == 1 and delivery["lastStatusCode"] == 200
        assert delivery["publicationSequence"] == 1 and delivery["payload"] == payload


def test_a_failing_receiver_is_retried_with_backoff_then_failed(
    stack: Stack, owner: Person, repo: str, queue: QueueView
) -> None:
    with receiver(500) as hook:
        ok(register(stack.api, owner.token, repo, hook.url))
        ok(create_release(stack.api, owner.token, repo, "v1"))
        (event,) = queue.requests(repo)
        queue.report(event)

        def failed() -> dict[str, object] | None:
            (webhook,) = webhooks(stack.api, owner.token, repo)
            nodes = webhook["deliveries"]["nodes"]
            return nodes[0] if nodes and nodes[0]["state"] == "FAILED" else None

        delivery = wait_for(failed, "the delivery to be FAILED")
        assert delivery["attempts"] == 3  # webhook.max_attempts
        assert delivery["lastStatusCode"] == 500 and "HTTP 500" in str(delivery["lastError"])
        assert hook.count() == 3
        ids = {r.headers["X-GitStore-Delivery"] for r in hook.requests}
        bodies = {r.body for r in hook.requests}
        assert ids == {delivery["id"]} and len(bodies) == 1  # the same delivery, resent as is
        # backoff (0.05 s, doubling): each retry waited at least its delay
        gaps = [b.at - a.at for a, b in zip(hook.requests, hook.requests[1:], strict=False)]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1


def test_redelivered_outcomes_do_not_duplicate_deliveries(
    stack: Stack, owner: Person, repo: str, queue: QueueView
) -> None:
    with receiver(200) as hook:
        ok(register(stack.api, owner.token, repo, hook.url))
        ok(create_release(stack.api, owner.token, repo, "v1"))
        (event,) = queue.requests(repo)
        queue.report(event)
        queue.report(event)  # at-least-once: the same outcome twice
        ok(create_release(stack.api, owner.token, repo, "v2"))
        queue.report(queue.requests(repo)[1])
        wait_for(lambda: hook.count() >= 2, "two POSTs")

        def settled() -> list[dict[str, object]] | None:
            nodes = webhooks(stack.api, owner.token, repo)[0]["deliveries"]["nodes"]
            return nodes if all(n["state"] == "SUCCEEDED" for n in nodes) else None

        nodes = wait_for(settled, "deliveries to succeed")
        assert [n["publicationSequence"] for n in nodes] == [2, 1]
        assert sorted(json.loads(r.body)["release"]["sequence"] for r in hook.requests) == [1, 2]


def test_registration_checks_the_url_and_the_caller(stack: Stack, owner: Person) -> None:
    repo = make_repository(stack.api, owner, organisation=True)
    writer = person(stack.api)
    add_member(stack.api, owner, repo, writer, "WRITER")
    for url, needle in (
        ("ftp://example.com/hook", "http or https"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https:///hook", "no host"),
        ("https://example.com/hook#frag", "fragment"),
    ):
        error = error_of(register(stack.api, owner.token, repo, url))
        assert error["code"] == "INVALID_ARGUMENT" and error["field"] == "url", url
        assert needle in error["message"], (url, error)
    denied = error_of(register(stack.api, writer.token, repo, "https://example.com/hook"))
    assert denied["code"] == "PERMISSION_DENIED" and "maintainer or owner" in denied["message"]
    listing = stack.api.graphql(
        "query($r: String!) { webhooks(repository: $r) { id } }", {"r": repo}, token=writer.token
    )
    assert listing.json()["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"

    created = ok(register(stack.api, owner.token, repo, "https://example.com/hook"))
    webhook_id = created["webhook"]["id"]
    twice = error_of(register(stack.api, owner.token, repo, "https://example.com/hook"))
    assert twice["code"] == "ALREADY_EXISTS"
    refused = error_of(mutate(stack.api, DELETE_WEBHOOK, {"id": webhook_id}, writer.token))
    assert refused["code"] == "PERMISSION_DENIED"
    deleted = ok(mutate(stack.api, DELETE_WEBHOOK, {"id": webhook_id}, owner.token))
    assert deleted["deletedWebhookId"] == webhook_id
    assert webhooks(stack.api, owner.token, repo) == []
    gone = error_of(mutate(stack.api, DELETE_WEBHOOK, {"id": webhook_id}, owner.token))
    assert gone["code"] == "NOT_FOUND" and gone["field"] == "id"


def test_a_paused_webhook_gets_nothing_and_a_rotated_secret_signs_after_resuming(
    stack: Stack, owner: Person, repo: str, queue: QueueView
) -> None:
    with receiver(200) as paused_hook, receiver(200) as witness:
        registered = ok(register(stack.api, owner.token, repo, paused_hook.url, "shop"))
        old_secret, webhook_id = registered["secret"], registered["webhook"]["id"]
        paused = ok(
            mutate(stack.api, UPDATE_WEBHOOK, {"id": webhook_id, "active": False}, owner.token)
        )
        assert paused["webhook"] == {
            "id": webhook_id,
            "url": paused_hook.url,
            "description": "shop",
            "active": False,
        }
        # The witness is active: once it has its POST, the publication's deliveries are queued.
        ok(register(stack.api, owner.token, repo, witness.url))
        ok(create_release(stack.api, owner.token, repo, "v1"))
        queue.report(queue.requests(repo)[0])
        wait_for(witness.count, "the active webhook's POST")
        listed = {w["id"]: w for w in webhooks(stack.api, owner.token, repo)}
        assert listed[webhook_id]["active"] is False
        assert listed[webhook_id]["deliveries"]["totalCount"] == 0
        assert paused_hook.count() == 0

        renamed = ok(
            mutate(
                stack.api, UPDATE_WEBHOOK, {"id": webhook_id, "description": "  new  "}, owner.token
            )
        )
        assert renamed["webhook"]["description"] == "new" and renamed["webhook"]["active"] is False
        rotated = ok(mutate(stack.api, ROTATE_WEBHOOK_SECRET, {"id": webhook_id}, owner.token))
        new_secret = rotated["secret"]
        assert new_secret.startswith("whsec_") and new_secret != old_secret
        assert rotated["webhook"] == {"id": webhook_id, "url": paused_hook.url, "active": False}
        resumed = ok(
            mutate(stack.api, UPDATE_WEBHOOK, {"id": webhook_id, "active": True}, owner.token)
        )
        assert resumed["webhook"]["active"] is True and resumed["webhook"]["description"] == "new"

        ok(create_release(stack.api, owner.token, repo, "v2"))
        queue.report(queue.requests(repo)[1])
        wait_for(paused_hook.count, "the resumed webhook's POST")
        (request,) = paused_hook.requests
        signature = request.headers["X-GitStore-Signature-256"]
        assert json.loads(request.body)["release"]["tag"] == "v2"
        assert _verify(new_secret, request.body, signature)
        assert not _verify(old_secret, request.body, signature)


def test_update_and_rotate_need_a_maintainer_and_a_known_webhook(
    stack: Stack, owner: Person
) -> None:
    repo = make_repository(stack.api, owner, organisation=True)
    writer = person(stack.api)
    add_member(stack.api, owner, repo, writer, "WRITER")
    webhook_id = ok(register(stack.api, owner.token, repo, "https://example.com/hook"))["webhook"][
        "id"
    ]
    for query, variables in (
        (UPDATE_WEBHOOK, {"id": webhook_id, "active": False}),
        (ROTATE_WEBHOOK_SECRET, {"id": webhook_id}),
    ):
        denied = error_of(mutate(stack.api, query, variables, writer.token))
        assert denied["code"] == "PERMISSION_DENIED" and "maintainer or owner" in denied["message"]
    stranger = person(stack.api)
    hidden = error_of(mutate(stack.api, ROTATE_WEBHOOK_SECRET, {"id": webhook_id}, stranger.token))
    assert hidden["code"] == "NOT_FOUND" and hidden["field"] == "id"
    assert webhooks(stack.api, owner.token, repo)[0]["active"] is True
    too_long = error_of(
        mutate(
            stack.api, UPDATE_WEBHOOK, {"id": webhook_id, "description": "x" * 1025}, owner.token
        )
    )
    assert too_long["code"] == "INVALID_ARGUMENT" and too_long["field"] == "description"
    ok(mutate(stack.api, DELETE_WEBHOOK, {"id": webhook_id}, owner.token))
    for query in (UPDATE_WEBHOOK, ROTATE_WEBHOOK_SECRET):
        gone = error_of(mutate(stack.api, query, {"id": webhook_id}, owner.token))
        assert gone["code"] == "NOT_FOUND" and gone["field"] == "id"
