"""Who may write: a token with the write scope and write access to the namespace."""

from __future__ import annotations

from .harness import Stack
from .ops import (
    ADD_MEMBER,
    CREATE_TOKEN,
    UPSERT_PRODUCT,
    Person,
    make_org_repository,
    make_repository,
    mutate,
    ok,
    person,
    product_spec,
    upsert_product,
)


def variables(repo: str) -> dict[str, object]:
    return {"input": {"repository": repo, "name": "p", "spec": product_spec()}}


def test_anonymous_is_401_and_commits_nothing(stack: Stack, owner: Person, repo: str) -> None:
    response = stack.api.graphql(UPSERT_PRODUCT, variables(repo))
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert stack.git_head(repo) is None


def test_reader_member_is_denied_writer_member_may(stack: Stack, owner: Person) -> None:
    namespace, repo = make_org_repository(stack.api, owner)
    reader, writer = person(stack.api), person(stack.api)
    for who, role in ((reader, "READER"), (writer, "WRITER")):
        ok(
            mutate(
                stack.api,
                ADD_MEMBER,
                {"namespace": namespace, "username": who.username, "role": role},
                owner.token,
            )
        )
    denied = upsert_product(stack.api, reader.token, repo, "p")
    (error,) = denied["userErrors"]
    assert error["code"] == "PERMISSION_DENIED" and error["field"] == "repository"
    assert "write access" in error["message"]
    assert stack.git_head(repo) is None
    ok(upsert_product(stack.api, writer.token, repo, "p"))
    assert stack.trailers(repo)["Actor"] == writer.username


def test_outsider_sees_not_found_for_a_private_repository(stack: Stack, owner: Person) -> None:
    repo = make_repository(stack.api, owner)
    stranger = person(stack.api)
    payload = upsert_product(stack.api, stranger.token, repo, "p")
    assert payload["userErrors"][0]["code"] == "NOT_FOUND"
    public = make_repository(stack.api, owner, visibility="PUBLIC")
    payload = upsert_product(stack.api, stranger.token, public, "p")
    assert payload["userErrors"][0]["code"] == "PERMISSION_DENIED"


def test_read_only_access_token_is_denied(stack: Stack, owner: Person, repo: str) -> None:
    def token(scopes: list[str]) -> str:
        created = ok(mutate(stack.api, CREATE_TOKEN, {"name": "t", "scopes": scopes}, owner.token))
        secret = created["secret"]
        assert isinstance(secret, str)
        return secret

    read_only = token(["READ"])
    payload = upsert_product(stack.api, read_only, repo, "p")
    (error,) = payload["userErrors"]
    assert error["code"] == "PERMISSION_DENIED" and "'write' scope" in error["message"]
    assert stack.git_head(repo) is None
    ok(upsert_product(stack.api, token(["READ", "WRITE"]), repo, "p"))
    assert stack.commit_count(repo) == 1
