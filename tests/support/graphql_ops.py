"""Calling GraphQL on a test API server: the assertions every operation helper starts with.

``execute`` posts a document that must execute (HTTP 200, no ``errors``) and returns ``data``;
``mutate`` runs a one-field mutation with ``{"input": ...}`` and returns its payload; ``ok``
asserts a payload has no ``userErrors`` and ``error_of`` that it has exactly one (returned).
``person`` makes a fresh user with a login token. The namespace and catalogue-write tests
build their operation helpers on these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.api.server import ApiServer


@dataclass
class Person:
    username: str
    token: str


def person(server: ApiServer, *, admin: bool = False) -> Person:
    """A new user (admin or not) and a token for it."""
    user, token = server.user_token(admin=admin)
    return Person(user.username, token)


def execute(
    server: ApiServer, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    """Run an operation that must execute (HTTP 200, no GraphQL errors); return ``data``."""
    response = server.graphql(query, variables, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data = body["data"]
    assert isinstance(data, dict)
    return data


def mutate(
    server: ApiServer, query: str, input: dict[str, Any], token: str | None
) -> dict[str, Any]:
    """Run a one-field mutation; return its payload."""
    data = execute(server, query, {"input": input}, token)
    (payload,) = data.values()
    assert isinstance(payload, dict)
    return payload


def ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def error_of(payload: dict[str, Any]) -> dict[str, Any]:
    errors = payload["userErrors"]
    assert len(errors) == 1, payload
    error = errors[0]
    assert isinstance(error, dict)
    return error
