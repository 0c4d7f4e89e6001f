"""upsert / delete / applyManifests / dryRun against a real API and a real git service."""

from __future__ import annotations

import json

from gitstore.domain.content import KindRegistry, Manifest, ManifestFormat, encode_manifest

from .harness import Stack
from .ops import (
    APPLY,
    DELETE_PRODUCT,
    UPSERT_CATEGORY,
    Person,
    fan,
    mutate,
    ok,
    product_spec,
    upsert_product,
)


def canonical(name: str, spec: dict[str, object], fmt: ManifestFormat, **meta: object) -> bytes:
    manifest = Manifest.from_object(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "Product",
            "metadata": {"name": name, **meta},
            "spec": spec,
        }
    )
    schema = KindRegistry.builtin().schema_for(manifest)
    return encode_manifest(manifest, fmt, schema=schema)


def test_upsert_commits_canonical_file_with_trailers(
    stack: Stack, owner: Person, repo: str
) -> None:
    spec = product_spec()
    payload = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "blue-shirt",
            spec=spec,
            labels={"team": "apparel"},
            clientMutationId="m-1",
            idempotencyKey="key-1",
        )
    )
    head = stack.git_head(repo)
    assert payload["commit"] == head and payload["committed"] is True
    assert payload["clientMutationId"] == "m-1"
    assert payload["branch"] == "main" and payload["repository"] == repo
    assert stack.commit_count(repo) == 1
    # canonical bytes at the conventional path
    assert stack.files(repo) == [fan("products/blue-shirt.yaml")]
    content = stack.git_show(repo, fan("products/blue-shirt.yaml"))
    assert content == canonical("blue-shirt", spec, ManifestFormat.YAML, labels={"team": "apparel"})
    # author, message and trailers, read with the real git binary
    author = stack.run_git(repo, "log", "-1", "--format=%an <%ae>|%s").strip()
    assert (
        author
        == f"{owner.username} <{owner.username}@users.gitstore.local>|upsert Product blue-shirt"
    )
    trailers = stack.trailers(repo)
    assert trailers["Actor"] == owner.username
    assert trailers["Idempotency-Key"] == "key-1"
    assert trailers["Schema-Version"] == "gitstore.dev/v1"
    assert len(trailers["Request-Id"]) >= 8
    # the payload: changes with a semantic diff, the product as the generated type reads it
    (change,) = payload["changes"]
    assert change["path"] == fan("products/blue-shirt.yaml")
    assert change["changeType"] == "ADDED" and change["kind"] == "Product"
    assert {"path": "spec.price.amount", "op": "ADDED", "old": None, "new": "19.99"} in change[
        "diff"
    ]
    product = payload["product"]
    assert product["name"] == "blue-shirt" and product["title"] == "Blue Shirt"
    assert product["price"] == {"amount": "19.99", "currency": "EUR"}
    assert product["version"] == head and product["path"] == fan("products/blue-shirt.yaml")
    assert product["labels"] == {"team": "apparel"}
    assert payload["indexing"] == {"repository": repo, "commit": head, "state": "PENDING"}


def test_request_id_header_becomes_the_trailer(stack: Stack, owner: Person, repo: str) -> None:
    response = stack.api.graphql(
        "mutation($i: UpsertProductInput!) {"
        " upsertProduct(input: $i) { commit userErrors { code } } }",
        {"i": {"repository": repo, "name": "traced", "spec": product_spec()}},
        token=owner.token,
        headers={"X-Request-Id": "trace-abc-123"},
    )
    assert response.json()["data"]["upsertProduct"]["userErrors"] == []
    assert stack.trailers(repo)["Request-Id"] == "trace-abc-123"


def test_update_keeps_existing_format_and_unchanged_makes_no_commit(
    stack: Stack, owner: Person, repo: str
) -> None:
    first = ok(upsert_product(stack.api, owner.token, repo, "tee", format="JSON"))
    assert stack.files(repo) == [fan("products/tee.json")]
    again = ok(upsert_product(stack.api, owner.token, repo, "tee"))
    assert again["committed"] is False and again["commit"] == first["commit"]
    assert again["changes"] == [] and stack.commit_count(repo) == 1
    assert again["product"]["version"] == first["commit"]
    changed = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "tee",
            spec=product_spec(price={"amount": "24.50", "currency": "EUR"}),
            format="MARKDOWN",  # only for new files: the JSON file stays JSON
        )
    )
    assert stack.files(repo) == [fan("products/tee.json")]
    assert stack.commit_count(repo) == 2
    stored = json.loads(stack.git_show(repo, fan("products/tee.json")))
    assert stored["spec"]["price"]["amount"] == "24.50"
    (change,) = changed["changes"]
    assert change["changeType"] == "MODIFIED"
    assert change["diff"] == [
        {"path": "spec.price.amount", "op": "CHANGED", "old": "19.99", "new": "24.50"}
    ]


def test_markdown_keeps_description_as_body(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "md-tee", format="MARKDOWN"))
    text = stack.git_show(repo, fan("products/md-tee.md")).decode()
    assert text.startswith("---\n") and text.endswith("\n\nA shirt, **blue**.\n")


def test_dry_run_returns_diff_and_commits_nothing(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "dry"))
    head = stack.git_head(repo)
    payload = ok(
        upsert_product(
            stack.api,
            owner.token,
            repo,
            "dry",
            spec=product_spec(title="Dry Shirt"),
            dryRun=True,
            idempotencyKey="dry-key",
        )
    )
    assert payload["dryRun"] is True and payload["commit"] is None
    assert payload["committed"] is False and payload["indexing"] is None
    assert payload["product"] is None
    assert payload["changes"][0]["diff"] == [
        {"path": "spec.title", "op": "CHANGED", "old": "Blue Shirt", "new": "Dry Shirt"}
    ]
    assert stack.git_head(repo) == head
    # a dry run takes no idempotency key: the same key still works for a real write
    real = ok(upsert_product(stack.api, owner.token, repo, "dry", idempotencyKey="dry-key"))
    assert real["committed"] is False  # same data as stored


def test_dry_run_on_empty_repository(stack: Stack, owner: Person, repo: str) -> None:
    payload = ok(upsert_product(stack.api, owner.token, repo, "first", dryRun=True))
    assert payload["changes"][0]["changeType"] == "ADDED"
    assert stack.git_head(repo) is None


def test_delete_removes_every_file_of_the_resource(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "gone"))
    ok(upsert_product(stack.api, owner.token, repo, "stays"))
    payload = ok(
        mutate(stack.api, DELETE_PRODUCT, {"repository": repo, "name": "gone"}, owner.token)
    )
    assert stack.files(repo) == [fan("products/stays.yaml")]
    assert payload["commit"] == stack.git_head(repo)
    (change,) = payload["changes"]
    assert change["changeType"] == "DELETED" and change["name"] == "gone"
    assert {"path": "spec.title", "op": "REMOVED", "old": "Blue Shirt", "new": None} in change[
        "diff"
    ]
    assert payload["deletedId"]
    assert stack.run_git(repo, "log", "-1", "--format=%s").strip() == "delete Product gone"
    missing = mutate(stack.api, DELETE_PRODUCT, {"repository": repo, "name": "gone"}, owner.token)
    assert missing["userErrors"] == [
        {"field": "name", "message": "Product 'gone' does not exist", "code": "NOT_FOUND"}
    ]


def test_apply_manifests_writes_several_in_one_commit(
    stack: Stack, owner: Person, repo: str
) -> None:
    yaml_category = (
        "apiVersion: gitstore.dev/v1\nkind: Category\nmetadata:\n  name: shirts\n"
        "spec:\n  title: Shirts\n"
    )
    markdown_collection = (
        "---\napiVersion: gitstore.dev/v1\nkind: Collection\nmetadata:\n  name: summer\n"
        "spec:\n  title: Summer\n  products: [linen-shirt]\n---\n\nLight things.\n"
    )
    product = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": "linen-shirt"},
        "spec": product_spec(title="Linen Shirt", categories=["shirts"]),
    }
    payload = ok(
        mutate(
            stack.api,
            APPLY,
            {
                "repository": repo,
                "manifests": [
                    {"format": "YAML", "content": yaml_category},
                    {"format": "MARKDOWN", "content": markdown_collection},
                    {"format": "JSON", "manifest": product},
                ],
                "message": "Summer launch",
            },
            owner.token,
        )
    )
    assert stack.commit_count(repo) == 1
    assert sorted(stack.files(repo)) == [
        fan("categories/shirts.yaml"),
        fan("collections/summer.md"),
        fan("products/linen-shirt.json"),
    ]
    assert stack.run_git(repo, "log", "-1", "--format=%s").strip() == "Summer launch"
    assert sorted(c["path"] for c in payload["changes"]) == sorted(stack.files(repo))
    collection = stack.git_show(repo, fan("collections/summer.md")).decode()
    assert collection.endswith("\n\nLight things.\n")


def test_apply_manifests_default_message_lists_changes(
    stack: Stack, owner: Person, repo: str
) -> None:
    manifests = [
        {
            "manifest": {
                "apiVersion": "gitstore.dev/v1",
                "kind": "Category",
                "metadata": {"name": name},
                "spec": {"title": name.title()},
            }
        }
        for name in ("a", "b")
    ]
    ok(mutate(stack.api, APPLY, {"repository": repo, "manifests": manifests}, owner.token))
    message = stack.run_git(repo, "log", "-1", "--format=%B")
    assert message.startswith("apply 2 changes\n\nupsert Category a\nupsert Category b\n")


def test_upsert_category_returns_generated_type(stack: Stack, owner: Person, repo: str) -> None:
    payload = ok(
        mutate(
            stack.api,
            UPSERT_CATEGORY,
            {"repository": repo, "name": "knitwear", "spec": {"title": "Knitwear"}},
            owner.token,
        )
    )
    assert payload["category"]["title"] == "Knitwear"
    assert payload["category"]["version"] == stack.git_head(repo)
    assert stack.files(repo) == [fan("categories/knitwear.yaml")]


def test_metrics_record_mutation_and_commit_latency(stack: Stack, owner: Person, repo: str) -> None:
    ok(upsert_product(stack.api, owner.token, repo, "measured"))
    text = stack.api.client.get("/metrics").text
    assert (
        'gitstore_api_mutation_duration_seconds_count{mutation="upsertProduct",outcome="ok"}'
        in text
    )
    assert 'gitstore_api_commit_duration_seconds_count{outcome="ok"}' in text
