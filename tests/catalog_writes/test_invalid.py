"""Invalid input: a clear userError with the JSON path of each bad field, and no commit."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import Stack
from .ops import (
    APPLY,
    Person,
    make_repository,
    mutate,
    ok,
    person,
    product_spec,
    upsert_product,
)


@pytest.fixture
def seeded(stack: Stack, owner: Person, repo: str) -> str:
    """A repository with one commit, so "nothing committed" means "the head did not move"."""
    ok(upsert_product(stack.api, owner.token, repo, "seed"))
    return repo


def refused(stack: Stack, repo: str, payload: dict[str, Any], head: str | None) -> list[Any]:
    assert payload["commit"] is None and payload["changes"] is None, payload
    assert stack.git_head(repo) == head
    errors = payload["userErrors"]
    assert errors
    return [(e["field"], e["code"]) for e in errors]


def test_missing_title(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    spec = product_spec()
    del spec["title"]
    payload = upsert_product(stack.api, owner.token, seeded, "untitled", spec=spec)
    assert refused(stack, seeded, payload, head) == [("spec.title", "VALIDATION_FAILED")]
    assert payload["userErrors"][0]["message"] == "spec.title is required"


def test_negative_price(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    spec = product_spec(price={"amount": "-5", "currency": "EUR"})
    payload = upsert_product(stack.api, owner.token, seeded, "cheap", spec=spec)
    assert refused(stack, seeded, payload, head) == [("spec.price.amount", "VALIDATION_FAILED")]
    message = payload["userErrors"][0]["message"]
    assert message.startswith("spec.price.amount: '-5' is not a valid non-negative decimal")


@pytest.mark.parametrize("currency", ["EURO", "usd", "XXX"])
def test_bad_currency(stack: Stack, owner: Person, seeded: str, currency: str) -> None:
    head = stack.git_head(seeded)
    spec = product_spec(price={"amount": "5.00", "currency": currency})
    payload = upsert_product(stack.api, owner.token, seeded, "odd", spec=spec)
    assert refused(stack, seeded, payload, head) == [("spec.price.currency", "VALIDATION_FAILED")]
    assert "ISO 4217" in payload["userErrors"][0]["message"]


def test_unknown_field(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    spec = product_spec(colour="blue")
    payload = upsert_product(stack.api, owner.token, seeded, "colourful", spec=spec)
    assert refused(stack, seeded, payload, head) == [("spec.colour", "VALIDATION_FAILED")]
    assert "unknown field of Product" in payload["userErrors"][0]["message"]


def test_every_problem_is_reported_at_once(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    spec = product_spec(price={"amount": "-1", "currency": "EURO"}, colour="red")
    del spec["title"]
    payload = upsert_product(
        stack.api, owner.token, seeded, "Bad_Name", spec=spec, labels={"bad key!": "x"}
    )
    fields = {f for f, _ in refused(stack, seeded, payload, head)}
    assert {"name", 'labels["bad key!"]'} <= fields


def test_invalid_name_and_options(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    payload = upsert_product(
        stack.api,
        owner.token,
        seeded,
        "ok-name",
        idempotencyKey=" padded ",
        expectedVersion="not-a-sha",
        indexTimeout=600.0,
    )
    assert refused(stack, seeded, payload, head) == [
        ("idempotencyKey", "INVALID_ARGUMENT"),
        ("expectedVersion", "INVALID_ARGUMENT"),
        ("indexTimeout", "INVALID_ARGUMENT"),
    ]


def test_malformed_yaml(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    content = "apiVersion: gitstore.dev/v1\nkind: Product\nmetadata:\n  name: [unclosed\nspec: {}\n"
    payload = mutate(
        stack.api,
        APPLY,
        {"repository": seeded, "manifests": [{"format": "YAML", "content": content}]},
        owner.token,
    )
    assert refused(stack, seeded, payload, head) == [("manifests[0]", "MALFORMED_MANIFEST")]
    assert "(line " in payload["userErrors"][0]["message"]


def test_malformed_frontmatter(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    unclosed = "---\napiVersion: gitstore.dev/v1\nkind: Product\nmetadata:\n  name: x\n"
    missing = "# Just a heading\n\nNo frontmatter here.\n"
    payload = mutate(
        stack.api,
        APPLY,
        {
            "repository": seeded,
            "manifests": [
                {"format": "MARKDOWN", "content": unclosed},
                {"format": "MARKDOWN", "content": missing},
            ],
        },
        owner.token,
    )
    assert refused(stack, seeded, payload, head) == [
        ("manifests[0]", "MALFORMED_MANIFEST"),
        ("manifests[1]", "MALFORMED_MANIFEST"),
    ]
    messages = " ".join(e["message"] for e in payload["userErrors"])
    assert "frontmatter" in messages


def test_apply_reports_the_manifest_and_field(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    good = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Category",
        "metadata": {"name": "fine"},
        "spec": {"title": "Fine"},
    }
    bad = {**good, "metadata": {"name": "broken"}, "spec": {"title": ""}}
    payload = mutate(
        stack.api,
        APPLY,
        {
            "repository": seeded,
            "manifests": [{"manifest": good}, {"manifest": bad}, {"manifest": good}],
        },
        owner.token,
    )
    assert refused(stack, seeded, payload, head) == [
        ("manifests[1].spec.title", "VALIDATION_FAILED"),
        ("manifests[2].metadata.name", "VALIDATION_FAILED"),  # Category fine twice
    ]


def test_apply_item_needs_exactly_one_source(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    payload = mutate(
        stack.api, APPLY, {"repository": seeded, "manifests": [{"format": "YAML"}]}, owner.token
    )
    assert refused(stack, seeded, payload, head) == [("manifests[0]", "INVALID_ARGUMENT")]


def test_ten_megabyte_description_is_too_large(stack_factory: Any) -> None:
    big = stack_factory(**{"api.max_body_bytes": 32 * 1024 * 1024})
    owner = person(big.api)
    repo = make_repository(big.api, owner)
    spec = product_spec(description="x" * (10 * 1024 * 1024))
    payload = upsert_product(big.api, owner.token, repo, "huge", spec=spec)
    assert refused(big, repo, payload, None) == [("spec", "TOO_LARGE")]
    message = payload["userErrors"][0]["message"]
    assert "over the limit of 1,048,576 bytes (1 MiB) per manifest" in message
    markdown = "---\napiVersion: gitstore.dev/v1\nkind: Product\nmetadata:\n  name: huge\n"
    markdown += "spec:\n  title: Huge\n---\n\n" + "y" * (10 * 1024 * 1024) + "\n"
    payload = mutate(
        big.api,
        APPLY,
        {"repository": repo, "manifests": [{"format": "MARKDOWN", "content": markdown}]},
        owner.token,
    )
    assert refused(big, repo, payload, None) == [("manifests[0]", "TOO_LARGE")]


def test_ten_megabyte_request_is_refused_by_the_body_limit(
    stack: Stack, owner: Person, seeded: str
) -> None:
    head = stack.git_head(seeded)
    spec = product_spec(description="x" * (10 * 1024 * 1024))
    response = stack.api.graphql(
        "mutation($i: UpsertProductInput!) { upsertProduct(input: $i) { commit } }",
        {"i": {"repository": seeded, "name": "huge", "spec": spec}},
        token=owner.token,
    )
    assert response.status_code == 413
    assert stack.git_head(seeded) == head


def test_unknown_repository(stack: Stack, owner: Person) -> None:
    payload = upsert_product(stack.api, owner.token, "nobody/nothing", "x")
    assert payload["userErrors"][0]["code"] == "NOT_FOUND"
    assert payload["userErrors"][0]["field"] == "repository"
    payload = upsert_product(stack.api, owner.token, "Not A Repo", "x")
    assert payload["userErrors"][0]["code"] == "INVALID_ARGUMENT"
    assert payload["userErrors"][0]["field"] == "repository"


def test_spec_that_is_not_an_object(stack: Stack, owner: Person, seeded: str) -> None:
    head = stack.git_head(seeded)
    payload = upsert_product(stack.api, owner.token, seeded, "listy", spec=["not", "a", "map"])
    assert refused(stack, seeded, payload, head) == [("spec", "VALIDATION_FAILED")]
    assert payload["userErrors"][0]["message"] == "spec must be a mapping, got a list"
