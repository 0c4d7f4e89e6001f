"""Hostile text in catalogue mutations: control characters and lone surrogates are refused
with a userError naming the field; manifest text is only read once access is established."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.graphql_ops import error_of

from .harness import Stack
from .ops import (
    APPLY,
    UPSERT_PRODUCT,
    Person,
    make_repository,
    ok,
    person,
    product_spec,
)

YAML = """apiVersion: gitstore.dev/v1
kind: Product
metadata:
  name: {name}
spec:
  title: {title}
  status: active
  price: {{amount: "5.00", currency: EUR}}
"""
MARKDOWN = """---
apiVersion: gitstore.dev/v1
kind: Product
metadata: {{name: {name}}}
spec:
  title: {title}
  price: {{amount: "5.00", currency: EUR}}
---
{body}
"""


def post(stack: Stack, query: str, input: dict[str, Any], token: str | None) -> Any:
    """POST with the body JSON-escaped (\\u0000, \\ud800): httpx cannot encode a lone
    surrogate itself."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": {"input": input}})
    return stack.api.client.post("/graphql", content=body.encode("ascii"), headers=headers)


def payload_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    assert payload["commit"] is None
    return dict(payload)


def yaml_input(repo: str, content: str, fmt: str = "YAML") -> dict[str, Any]:
    return {"repository": repo, "manifests": [{"format": fmt, "content": content}]}


BAD_YAML = [
    YAML.format(name="p", title='"a\x00b"'),  # inside quotes
    YAML.format(name="p", title="a\x01b"),  # plain scalar
    YAML.format(name="p", title="x") + "# \x1b[31m\n",  # in a comment
    YAML.format(name="p", title="a\x7fb"),  # DEL
    YAML.format(name="p", title="a\x9bb"),  # C1
]


# ---------------------------------------------------------------------- access comes first
@pytest.mark.parametrize("content", BAD_YAML[:3])
def test_anonymous_bad_content_is_unauthenticated(stack: Stack, repo: str, content: str) -> None:
    response = post(stack, APPLY, yaml_input(repo, content), None)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert stack.git_head(repo) is None


@pytest.mark.parametrize("content", BAD_YAML[:3])
def test_outsider_bad_content_is_not_found(stack: Stack, repo: str, content: str) -> None:
    outsider = person(stack.api)
    error = error_of(payload_of(post(stack, APPLY, yaml_input(repo, content), outsider.token)))
    assert (error["field"], error["code"]) == ("repository", "NOT_FOUND")


def test_reader_of_a_public_repository_is_denied_before_the_content_is_read(
    stack: Stack, owner: Person
) -> None:
    public = make_repository(stack.api, owner, visibility="PUBLIC")
    stranger = person(stack.api)
    for content in BAD_YAML[:2]:
        error = error_of(
            payload_of(post(stack, APPLY, yaml_input(public, content), stranger.token))
        )
        assert (error["field"], error["code"]) == ("repository", "PERMISSION_DENIED")
    bad_spec = {"repository": public, "name": "p", "spec": {"title": "\x00"}}
    error = error_of(payload_of(post(stack, UPSERT_PRODUCT, bad_spec, stranger.token)))
    assert error["code"] == "PERMISSION_DENIED"


# ---------------------------------------------------------------------- YAML / Markdown text
@pytest.mark.parametrize("content", BAD_YAML)
def test_yaml_with_control_characters_is_a_user_error(
    stack: Stack, owner: Person, repo: str, content: str
) -> None:
    error = error_of(payload_of(post(stack, APPLY, yaml_input(repo, content), owner.token)))
    assert (error["field"], error["code"]) == ("manifests[0]", "MALFORMED_MANIFEST")
    assert "is not allowed in YAML text" in error["message"]
    assert "(line " in error["message"]
    assert stack.git_head(repo) is None


@pytest.mark.parametrize(
    ("content", "field", "code"),
    [
        (MARKDOWN.format(name="p", title="a\x02", body="ok"), "manifests[0]", "MALFORMED_MANIFEST"),
        (
            MARKDOWN.format(name="p", title="t", body="a\x00b"),
            "manifests[0].spec.description",
            "VALIDATION_FAILED",
        ),
        (
            MARKDOWN.format(name="p", title="t", body="bell \x07 and \x1f"),
            "manifests[0].spec.description",
            "VALIDATION_FAILED",
        ),
    ],
)
def test_markdown_with_control_characters_is_a_user_error(
    stack: Stack, owner: Person, repo: str, content: str, field: str, code: str
) -> None:
    payload = payload_of(post(stack, APPLY, yaml_input(repo, content, "MARKDOWN"), owner.token))
    error = error_of(payload)
    assert (error["field"], error["code"]) == (field, code)
    assert stack.git_head(repo) is None


@pytest.mark.parametrize("escape", ["\\u0000", "\\u001b", "\\u007f", "\\u0085"])
def test_escaped_control_characters_in_yaml_strings_are_refused(
    stack: Stack, owner: Person, repo: str, escape: str
) -> None:
    content = YAML.format(name="p", title=f'"a{escape}b"')  # YAML's own escape: valid YAML
    error = error_of(payload_of(post(stack, APPLY, yaml_input(repo, content), owner.token)))
    assert (error["field"], error["code"]) == ("manifests[0].spec.title", "VALIDATION_FAILED")
    code = escape[2:].upper()
    assert (
        f"spec.title: control character U+{code} at position 1 is not allowed" in (error["message"])
    )


def test_a_lone_surrogate_in_content_is_a_user_error(
    stack: Stack, owner: Person, repo: str
) -> None:
    content = YAML.format(name="p", title="a\ud800b")
    error = error_of(payload_of(post(stack, APPLY, yaml_input(repo, content), owner.token)))
    assert (error["field"], error["code"]) == ("manifests[0]", "MALFORMED_MANIFEST")
    assert "UTF-8" in error["message"]


# ---------------------------------------------------------------------- typed and object input
@pytest.mark.parametrize(
    ("title", "what"),
    [
        ("a\x00b", "control character U+0000"),
        ("\x1b[2J", "control character U+001B"),
        ("a\x7f", "control character U+007F"),
        ("a\x80", "control character U+0080"),
        ("a\ud800b", "lone surrogate U+D800"),
        ("\udfff", "lone surrogate U+DFFF"),
        ("line\nbreak", None),  # newline, tab and CR are text
        ("tab\there\r\n", None),
    ],
)
def test_typed_titles(stack: Stack, owner: Person, repo: str, title: str, what: str | None) -> None:
    spec = product_spec(title=title, description="two\nlines\twith a tab")
    input = {"repository": repo, "name": "p", "spec": spec}
    payload = post(stack, UPSERT_PRODUCT, input, owner.token).json()["data"]["upsertProduct"]
    if what is None:
        ok(payload)
        assert payload["product"]["title"] == title
        return
    error = error_of(payload)
    assert (error["field"], error["code"]) == ("spec.title", "VALIDATION_FAILED")
    assert error["message"].startswith(f"spec.title: {what} at position")
    assert payload["commit"] is None


def test_every_bad_string_is_named(stack: Stack, owner: Person, repo: str) -> None:
    spec = product_spec(tags=["ok", "b\x00d"], description="\x08")
    spec["price"]["currency"] = "EUR"
    input = {
        "repository": repo,
        "name": "p",
        "spec": spec,
        "labels": {"team": "ok"},
        "annotations": {"note": "x\x01", "ok": "fine\ttext"},
    }
    payload = post(stack, UPSERT_PRODUCT, input, owner.token).json()["data"]["upsertProduct"]
    fields = {(e["field"], e["code"]) for e in payload["userErrors"]}
    assert fields >= {
        ("spec.description", "VALIDATION_FAILED"),
        ("spec.tags[1]", "VALIDATION_FAILED"),
        ('annotations["note"]', "VALIDATION_FAILED"),
    }
    assert len(fields) == 3


def test_manifest_objects_are_checked_too(stack: Stack, owner: Person, repo: str) -> None:
    manifest = {
        "apiVersion": "gitstore.dev/v1",
        "kind": "Product",
        "metadata": {"name": "p"},
        "spec": product_spec(title="ok", attributes={"a\x00": "x"}),
    }
    input = {"repository": repo, "manifests": [{"manifest": manifest}]}
    fields = [
        (e["field"], e["code"])
        for e in payload_of(post(stack, APPLY, input, owner.token))["userErrors"]
    ]
    assert ('manifests[0].spec.attributes["a\\u0000"]', "VALIDATION_FAILED") in fields


# ---------------------------------------------------------------------- options
@pytest.mark.parametrize(
    "branch", ["../x", "a b", "-x", "HEAD", "x\x00y", "a..b", "x.lock", "a\ud800"]
)
def test_a_bad_branch_names_the_branch_field(
    stack: Stack, owner: Person, repo: str, branch: str
) -> None:
    input = yaml_input(repo, YAML.format(name="p", title="t")) | {"branch": branch}
    error = error_of(payload_of(post(stack, APPLY, input, owner.token)))
    assert (error["field"], error["code"]) == ("branch", "INVALID_ARGUMENT")
    assert error["message"].startswith("branch ")


@pytest.mark.parametrize("message", ["a\x00b", "\ud800"])
def test_a_commit_message_with_control_characters_is_refused(
    stack: Stack, owner: Person, repo: str, message: str
) -> None:
    input = yaml_input(repo, YAML.format(name="p", title="t")) | {"message": message}
    error = error_of(payload_of(post(stack, APPLY, input, owner.token)))
    assert (error["field"], error["code"]) == ("message", "INVALID_ARGUMENT")


def test_a_good_branch_still_works(stack: Stack, owner: Person, repo: str) -> None:
    input = yaml_input(repo, YAML.format(name="p", title="t")) | {"branch": "feature/x-1"}
    payload = post(stack, APPLY, input, owner.token).json()["data"]["applyManifests"]
    ok(payload)
    assert payload["branch"] == "feature/x-1" and payload["committed"] is True
