"""The core flows again with the PostgreSQL metadata store (a fresh schema per module).

Needs the PostgreSQL server of ``tests/servers.py``: skipped on a laptop without it, a
failure under ``CI=true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.servers import POSTGRES_URL, require_server

from .harness import Stack, start_stack
from .ops import (
    CREATE_REPOSITORY,
    DELETE_NAMESPACE,
    DELETE_REPOSITORY,
    People,
    add_member,
    call,
    create_namespace,
    create_repository,
    error_of,
    make_people,
    mutate,
    ok,
)
from .test_contract_examples import BY_ID, BY_IDENTIFIER, CREATE, DELETE, LIST, PLACEHOLDER


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = require_server(POSTGRES_URL, "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    separator = "&" if "?" in url else "?"
    try:
        with start_stack(
            tmp_path_factory.mktemp("pg"), db_url=f"{url}{separator}schema={schema}"
        ) as running:
            assert type(running.api.services.store).__name__ == "PostgresMetadataStore"
            yield running
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


@pytest.fixture(scope="module")
def pg_people(pg_stack: Stack) -> People:
    return make_people(pg_stack.api)


def test_documented_examples_on_postgres(pg_stack: Stack, pg_people: People) -> None:
    api = pg_stack.api
    before = call(api, LIST)["namespaces"]["totalCount"]
    namespace = call(api, CREATE, token=pg_people.alice.token)["createNamespace"]["namespace"]
    assert call(api, LIST)["namespaces"]["totalCount"] == before + 1
    assert call(api, BY_IDENTIFIER)["namespace"]["id"] == namespace["id"]
    assert call(api, BY_ID) == {"namespace": None}
    assert call(api, BY_ID.replace(PLACEHOLDER, namespace["id"]))["namespace"]["identifier"] == (
        "acme-corp"
    )
    assert call(api, DELETE, token=pg_people.alice.token)["deleteNamespace"] == {
        "clientMutationId": "delete-acme-corp",
        "deletedIdentifier": "acme-corp",
    }


def test_repositories_members_and_guard_on_postgres(pg_stack: Stack, pg_people: People) -> None:
    api, alice, bob = pg_stack.api, pg_people.alice, pg_people.bob
    org = create_namespace(api, alice.token, "ORGANISATION")["identifier"]
    assert code(mutate(api, CREATE_REPOSITORY, {"namespace": org, "name": "x"}, bob.token)) == (
        "PERMISSION_DENIED"
    )
    add_member(api, alice.token, org, bob.username, "WRITER")
    for name in ("one", "two", "three"):
        create_repository(api, bob.token, org, name)
    assert pg_stack.git_repositories(org) == [f"{org}/one", f"{org}/three", f"{org}/two"]

    page = call(
        api,
        """query($i: String!, $after: String) { namespace(by: {identifier: $i}) {
             repositories(first: 2, after: $after) {
               nodes { name } pageInfo { hasNextPage endCursor } totalCount } } }""",
        {"i": org},
        alice.token,
    )["namespace"]["repositories"]
    assert ([n["name"] for n in page["nodes"]], page["totalCount"]) == (["one", "two"], 3)
    rest = call(
        api,
        """query($i: String!, $after: String) { namespace(by: {identifier: $i}) {
             repositories(first: 2, after: $after) {
               nodes { name } pageInfo { hasNextPage } } } }""",
        {"i": org, "after": page["pageInfo"]["endCursor"]},
        alice.token,
    )["namespace"]["repositories"]
    assert rest == {"nodes": [{"name": "three"}], "pageInfo": {"hasNextPage": False}}

    guard = error_of(mutate(api, DELETE_NAMESPACE, {"identifier": org}, alice.token))
    assert guard["code"] == "FAILED_PRECONDITION"
    assert "still holds 3 repositories" in guard["message"]
    for name in ("one", "two", "three"):
        ok(mutate(api, DELETE_REPOSITORY, {"namespace": org, "name": name}, alice.token))
    assert pg_stack.git_repositories(org) == []
    assert (
        ok(mutate(api, DELETE_NAMESPACE, {"identifier": org}, alice.token))["deletedIdentifier"]
        == org
    )


def test_a_git_leftover_leaves_no_record_on_postgres(pg_stack: Stack, pg_people: People) -> None:
    api = pg_stack.api
    ns = create_namespace(api, pg_people.alice.token)["identifier"]
    pg_stack.git_create(f"{ns}/ghost")
    error = error_of(
        mutate(api, CREATE_REPOSITORY, {"namespace": ns, "name": "ghost"}, pg_people.alice.token)
    )
    assert error["code"] == "ALREADY_EXISTS"
    store = api.services.store
    assert api.run(store.get_repository_by_name(ns, "ghost")) is None


def code(payload: dict[str, object]) -> str:
    return str(error_of(payload)["code"])
