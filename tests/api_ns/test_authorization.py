"""Authorization matrix: anonymous / owner / other user / admin, for every mutation.

"owner" is alice, who created the namespace (or repository) the mutation is about; "other"
is bob, a user with no role there. Anonymous callers get HTTP 401 with
``extensions.code == UNAUTHENTICATED``; forbidden callers get a ``PERMISSION_DENIED`` user
error (``NOT_FOUND`` where the target is a private repository they cannot see).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gitstore.api.identity.jwt_tokens import JwtCodec
from tests.api.server import TEST_JWT_SECRET

from .harness import Stack
from .ops import (
    ADD_MEMBER,
    CREATE_NAMESPACE,
    CREATE_REPOSITORY,
    DELETE_NAMESPACE,
    DELETE_REPOSITORY,
    REMOVE_MEMBER,
    UPDATE_NAMESPACE,
    UPDATE_REPOSITORY,
    People,
    add_member,
    create_namespace,
    create_repository,
    unique_name,
)

Setup = Callable[[Stack, People], dict[str, Any]]


def new_namespace(tier: str) -> Setup:
    return lambda _stack, _people: {"identifier": unique_name("m"), "tier": tier}


def alices_namespace(extra: dict[str, Any]) -> Setup:
    def setup(stack: Stack, people: People) -> dict[str, Any]:
        ns = create_namespace(stack.api, people.alice.token)
        return {"identifier": ns["identifier"], **extra}

    return setup


def new_repository_in_alices_namespace(stack: Stack, people: People) -> dict[str, Any]:
    ns = create_namespace(stack.api, people.alice.token)
    return {"namespace": ns["identifier"], "name": unique_name("r")}


def alices_repository(visibility: str, extra: dict[str, Any]) -> Setup:
    def setup(stack: Stack, people: People) -> dict[str, Any]:
        ns = create_namespace(stack.api, people.alice.token)
        repo = create_repository(
            stack.api, people.alice.token, ns["identifier"], visibility=visibility
        )
        return {"namespace": ns["identifier"], "name": repo["name"], **extra}

    return setup


def alices_org_member(stack: Stack, people: People) -> dict[str, Any]:
    org = create_namespace(stack.api, people.alice.token, "ORGANISATION")
    return {"namespace": org["identifier"], "username": people.carol.username, "role": "READER"}


def alices_org_with_carol(stack: Stack, people: People) -> dict[str, Any]:
    org = create_namespace(stack.api, people.alice.token, "ORGANISATION")
    add_member(stack.api, people.alice.token, org["identifier"], people.carol.username, "WRITER")
    return {"namespace": org["identifier"], "username": people.carol.username}


OK, DENIED, HIDDEN, ANON = "ok", "PERMISSION_DENIED", "NOT_FOUND", 401

#: mutation name -> (query, setup, expected for anonymous, alice, bob, admin)
MATRIX: dict[str, tuple[str, Setup, tuple[Any, Any, Any, Any]]] = {
    "createNamespace USER": (CREATE_NAMESPACE, new_namespace("USER"), (ANON, OK, OK, OK)),
    "createNamespace ORGANISATION": (
        CREATE_NAMESPACE,
        new_namespace("ORGANISATION"),
        (ANON, OK, OK, OK),
    ),
    "createNamespace ENTERPRISE": (
        CREATE_NAMESPACE,
        new_namespace("ENTERPRISE"),
        (ANON, DENIED, DENIED, OK),
    ),
    "updateNamespace": (
        UPDATE_NAMESPACE,
        alices_namespace({"displayName": "New"}),
        (ANON, OK, DENIED, OK),
    ),
    "deleteNamespace": (DELETE_NAMESPACE, alices_namespace({}), (ANON, OK, DENIED, OK)),
    "createRepository": (
        CREATE_REPOSITORY,
        new_repository_in_alices_namespace,
        (ANON, OK, DENIED, OK),
    ),
    "updateRepository public": (
        UPDATE_REPOSITORY,
        alices_repository("PUBLIC", {"description": "d"}),
        (ANON, OK, DENIED, OK),
    ),
    "updateRepository private": (
        UPDATE_REPOSITORY,
        alices_repository("PRIVATE", {"description": "d"}),
        (ANON, OK, HIDDEN, OK),
    ),
    "deleteRepository public": (
        DELETE_REPOSITORY,
        alices_repository("PUBLIC", {}),
        (ANON, OK, DENIED, OK),
    ),
    "deleteRepository private": (
        DELETE_REPOSITORY,
        alices_repository("PRIVATE", {}),
        (ANON, OK, HIDDEN, OK),
    ),
    "addNamespaceMember": (ADD_MEMBER, alices_org_member, (ANON, OK, DENIED, OK)),
    "removeNamespaceMember": (REMOVE_MEMBER, alices_org_with_carol, (ANON, OK, DENIED, OK)),
}

CASES = [
    pytest.param(query, setup, who, expected, id=f"{name}-{who}")
    for name, (query, setup, outcomes) in MATRIX.items()
    for who, expected in zip(("anonymous", "alice", "bob", "admin"), outcomes, strict=True)
]


@pytest.mark.parametrize(("query", "setup", "who", "expected"), CASES)
def test_authorization_matrix(
    stack: Stack, people: People, query: str, setup: Setup, who: str, expected: Any
) -> None:
    variables = {"input": {**setup(stack, people), "clientMutationId": "m-1"}}
    token = None if who == "anonymous" else getattr(people, who).token
    response = stack.api.graphql(query, variables, token=token)
    body = response.json()
    if expected == ANON:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "authentication required" in body["errors"][0]["message"]
        return
    assert response.status_code == 200, body
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    assert payload["clientMutationId"] == "m-1"
    if expected == OK:
        assert payload["userErrors"] == []
    else:
        (error,) = payload["userErrors"]
        assert error["code"] == expected, error
        assert error["message"]


def test_forged_expired_and_garbage_tokens_are_refused_before_anything_runs(
    stack: Stack, people: People
) -> None:
    header, payload, _signature = people.alice.token.split(".")
    forged = f"{header}.{payload}.{'A' * 43}"
    admin = stack.api.run(stack.api.services.store.get_user_by_username(people.admin.username))
    assert admin is not None
    codec = JwtCodec(TEST_JWT_SECRET.encode(), ttl=timedelta(hours=1))
    expired = codec.issue(admin.id, is_admin=True, now=datetime.now(UTC) - timedelta(hours=2))
    for token in (forged, expired.token, "not-a-token"):
        name = unique_name("forged")
        response = stack.api.graphql(
            CREATE_NAMESPACE, {"input": {"identifier": name, "tier": "USER"}}, token=token
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        found = stack.api.graphql(
            "query($i: String!) { namespace(by: {identifier: $i}) { id } }", {"i": name}
        )
        assert found.json() == {"data": {"namespace": None}}


def test_a_read_only_access_token_cannot_mutate(stack: Stack, people: People) -> None:
    created = stack.api.graphql(
        """mutation { createAccessToken(input: {name: "ro", scopes: [READ]}) {
             secret userErrors { code } } }""",
        token=people.alice.token,
    ).json()["data"]["createAccessToken"]
    secret = created["secret"]
    response = stack.api.graphql(
        CREATE_NAMESPACE,
        {"input": {"identifier": unique_name("ro"), "tier": "USER"}},
        token=secret,
    )
    (error,) = response.json()["data"]["createNamespace"]["userErrors"]
    assert error["code"] == "PERMISSION_DENIED"
    assert "'write' scope" in error["message"]
    # but it reads
    create_namespace(stack.api, people.alice.token)
    listed = stack.api.graphql("{ namespaces(first: 1) { totalCount } }", token=secret)
    assert listed.status_code == 200
    assert listed.json()["data"]["namespaces"]["totalCount"] >= 1
