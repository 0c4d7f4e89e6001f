"""Every mutation's text inputs refuse lone surrogates and control characters by field.

Before, a ``"\\ud800"`` in a display name or token name reached the store's UTF-8 encoder and
came back as an internal error; NUL and ESC were stored. Now each is an ``INVALID_ARGUMENT``
userError naming the input field, nothing is stored, and tab/newline stay allowed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .server import GRAPHQL_RESPONSE, ApiServer, unique_name

CREATE_NS = """mutation($i: CreateNamespaceInput!) { createNamespace(input: $i) {
  namespace { identifier displayName } userErrors { field message code } } }"""
UPDATE_NS = """mutation($i: UpdateNamespaceInput!) { updateNamespace(input: $i) {
  namespace { displayName } userErrors { field message code } } }"""
CREATE_TOKEN = """mutation($i: CreateAccessTokenInput!) { createAccessToken(input: $i) {
  accessToken { name } userErrors { field message code } } }"""
LOGIN = """mutation($i: LoginInput!) { login(input: $i) { token userErrors { field code } } }"""

BAD = ["a\ud800b", "\udfff", "x\x00y", "esc\x1b[31m", "del\x7f", "c1\x85"]


def send(api_server: ApiServer, query: str, variables: dict[str, Any], token: str | None = None):
    """JSON with ASCII escapes, as a browser's JSON.stringify of a lone surrogate sends it."""
    headers = {"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    return api_server.client.post("/graphql", content=body, headers=headers)


def only_user_error(response, mutation: str) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    errors = body["data"][mutation]["userErrors"]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("text", BAD)
def test_namespace_display_name_with_a_refused_character(api_server: ApiServer, text: str) -> None:
    _, token = api_server.user_token(admin=True)
    ident = unique_name("ns")
    variables = {"i": {"identifier": ident, "tier": "ORGANISATION", "displayName": text}}
    error = only_user_error(send(api_server, CREATE_NS, variables, token), "createNamespace")
    assert error["field"] == "displayName"
    assert error["code"] == "INVALID_ARGUMENT"
    assert "U+" in error["message"]
    stored = api_server.run(api_server.services.store.get_namespace_by_identifier(ident))
    assert stored is None


def test_update_and_token_name_refuse_and_keep_what_was_stored(api_server: ApiServer) -> None:
    _, token = api_server.user_token(admin=True)
    ident = unique_name("ns")
    created = send(
        api_server,
        CREATE_NS,
        {"i": {"identifier": ident, "tier": "ORGANISATION", "displayName": "Café ☕ Ωmega"}},
        token,
    ).json()["data"]["createNamespace"]
    assert created["userErrors"] == []
    assert created["namespace"]["displayName"] == "Café ☕ Ωmega"

    response = send(
        api_server, UPDATE_NS, {"i": {"identifier": ident, "displayName": "b\ud800"}}, token
    )
    assert only_user_error(response, "updateNamespace")["field"] == "displayName"
    stored = api_server.run(api_server.services.store.get_namespace_by_identifier(ident))
    assert stored is not None and stored.display_name == "Café ☕ Ωmega"

    for name in ("ci\ud800", "ci\x00"):
        response = send(api_server, CREATE_TOKEN, {"i": {"name": name, "scopes": ["READ"]}}, token)
        assert only_user_error(response, "createAccessToken")["field"] == "name"


def test_login_with_a_lone_surrogate_is_a_user_error(api_server: ApiServer) -> None:
    response = send(api_server, LOGIN, {"i": {"username": "al\ud800", "password": "x" * 9}})
    assert only_user_error(response, "login") == {"field": "username", "code": "INVALID_ARGUMENT"}
