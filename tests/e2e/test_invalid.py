"""Invalid input over HTTP: one clear error naming the bad field, and nothing committed,
nothing changed for storefronts."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Person
from .flows import APPLY, ok, product_spec, read_product, settled_status, upsert
from .served import Served

TEN_MB = 10 * 1024 * 1024

# (name, mutation input extras, expected field, code, words in the message)
UPSERTS: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "missing-title",
        {"price": {"amount": "5.00", "currency": "EUR"}},
        "spec.title",
        "VALIDATION_FAILED",
        "spec.title is required",
    ),
    (
        "negative-price",
        product_spec(amount="-5"),
        "spec.price.amount",
        "VALIDATION_FAILED",
        "'-5' is not a valid non-negative decimal amount",
    ),
    (
        "bad-currency",
        {**product_spec(), "price": {"amount": "5.00", "currency": "EURO"}},
        "spec.price.currency",
        "VALIDATION_FAILED",
        "'EURO' is not an ISO 4217 currency code",
    ),
    (
        "unknown-field",
        product_spec(colour="red"),
        "spec.colour",
        "VALIDATION_FAILED",
        "unknown field of Product",
    ),
    (
        "ten-mb-description",
        product_spec(description="x" * TEN_MB),
        "spec",
        "TOO_LARGE",
        "over the limit of 1,048,576 bytes",
    ),
]

MALFORMED_YAML = "apiVersion: gitstore.dev/v1\nkind: Product\nmetadata: {name: x\nspec: [\n"
UNCLOSED_FRONTMATTER = (
    "---\napiVersion: gitstore.dev/v1\nkind: Product\nmetadata:\n  name: x\n"
    "spec:\n  title: X\n\nThe body, but the frontmatter never closed.\n"
)
APPLIES = [
    ("malformed-yaml", "YAML", MALFORMED_YAML, "invalid YAML"),
    ("malformed-frontmatter", "MARKDOWN", UNCLOSED_FRONTMATTER, "frontmatter"),
]


@pytest.fixture
def baseline(served: Served, owner: Person, repo: str) -> str:
    """One valid product already indexed: what must stay untouched."""
    return str(
        ok(upsert(served, owner.token, repo, "kept", product_spec("Kept"), waitForIndex=True))[
            "commit"
        ]
    )


def assert_nothing_changed(served: Served, repo: str, head: str) -> None:
    assert served.head(repo) == head and served.commit_count(repo) == 1
    catalog = read_product(served, repo, "kept")
    assert catalog["version"] == head and catalog["product"]["title"] == "Kept"


@pytest.mark.parametrize(
    ("case", "spec", "field", "code", "words"), UPSERTS, ids=[u[0] for u in UPSERTS]
)
def test_invalid_upsert_is_refused_before_committing(
    served: Served,
    owner: Person,
    repo: str,
    baseline: str,
    case: str,
    spec: dict[str, Any],
    field: str,
    code: str,
    words: str,
) -> None:
    payload = upsert(served, owner.token, repo, "kept", spec, waitForIndex=True)
    assert payload["commit"] is None and payload["indexing"] is None
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (field, code)
    assert words in error["message"]
    assert_nothing_changed(served, repo, baseline)


@pytest.mark.parametrize(("case", "fmt", "content", "words"), APPLIES, ids=[a[0] for a in APPLIES])
def test_malformed_manifest_text_is_refused(
    served: Served,
    owner: Person,
    repo: str,
    baseline: str,
    case: str,
    fmt: str,
    content: str,
    words: str,
) -> None:
    good = {
        "format": "YAML",
        "content": "apiVersion: gitstore.dev/v1\nkind: Category\n"
        "metadata:\n  name: fine\nspec:\n  title: Fine\n",
    }
    variables = {
        "i": {"repository": repo, "manifests": [good, {"format": fmt, "content": content}]}
    }
    payload = served.data(APPLY, variables, owner.token)["applyManifests"]
    assert payload["commit"] is None
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == ("manifests[1]", "MALFORMED_MANIFEST")
    assert words in error["message"] and "line" in error["message"]
    assert_nothing_changed(served, repo, baseline)


def test_api_commits_are_valid_for_the_worker(
    served: Served, owner: Person, repo: str, baseline: str
) -> None:
    """Validation runs before the commit, so the worker's verdict on API commits is VALID."""
    status = settled_status(served, owner.token, repo, baseline)
    assert status == {"state": "VALID", "commit": baseline, "errors": []}
