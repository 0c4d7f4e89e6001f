"""Change request events (opened; updated by an API write to the source branch; closed)
reach the repository's webhooks (signed, with their own
``X-GitStore-Event``), through the same deliveries and dispatcher as ``release.published``."""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import APPLY, product_spec, upsert_product

from .harness import receiver, wait_for
from .ops import Person, mutate, ok, register

CREATE = """mutation($input: CreateChangeRequestInput!) {
  createChangeRequest(input: $input) { changeRequest { id number } userErrors { code message } }
}"""
CLOSE = """mutation($input: CloseChangeRequestInput!) {
  closeChangeRequest(input: $input) { changeRequest { state } userErrors { code message } }
}"""


def test_opened_updated_and_closed_are_posted(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "p"))
    doc = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": "p"},
        "spec": product_spec(title="Other"),
    }
    ok(
        mutate(
            stack.api,
            APPLY,
            {"repository": repo, "manifests": [{"manifest": doc}], "branch": "other"},
            owner.token,
        )
    )
    with receiver(200) as hook:
        secret = ok(register(stack.api, owner.token, repo, hook.url, "reviews"))["secret"]
        cr = ok(
            mutate(
                stack.api,
                CREATE,
                {"repository": repo, "sourceBranch": "other", "title": "Retitle"},
                owner.token,
            )
        )["changeRequest"]
        doc["spec"] = product_spec(title="Other again")
        moved = ok(
            mutate(
                stack.api,
                APPLY,
                {"repository": repo, "manifests": [{"manifest": doc}], "branch": "other"},
                owner.token,
            )
        )
        ok(mutate(stack.api, CLOSE, {"id": cr["id"]}, owner.token))
        wait_for(lambda: hook.count() >= 3, "three webhook POSTs")
        events = []
        for request in hook.requests:
            headers = {k.lower(): v for k, v in request.headers.items()}
            expected = (
                "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
            )
            assert headers["x-gitstore-signature-256"] == expected
            payload = json.loads(request.body)
            assert headers["x-gitstore-event"] == payload["event"]
            assert payload["repository"] == repo
            assert payload["changeRequest"]["number"] == cr["number"]
            events.append((payload["event"], payload["changeRequest"]["state"]))
            if payload["event"] == "change_request.updated":
                assert payload["changeRequest"]["headSha"] == moved["commit"]
        assert sorted(events) == [
            ("change_request.closed", "CLOSED"),
            ("change_request.opened", "OPEN"),
            ("change_request.updated", "OPEN"),
        ]
