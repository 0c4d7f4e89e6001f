"""Operations built to tie the server up: a thousand mutation root fields, a thousand aliased
``login`` password checks, hundreds of aliased introspection queries, a query made of
thousands of root aliases. Each is refused at validation with an error naming the limit."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from gitstore.api.graphql.identity import IdentityModule

from .modules import TreeModule
from .server import JSON, ApiServer

LOGIN_FIELD = 'login(input: {{username: "{user}", password: "{password}"}}) {{ token }}'


def only_error(response) -> dict:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def logins(count: int, user: str = "nobody") -> str:
    fields = " ".join(
        f"l{i}: " + LOGIN_FIELD.format(user=user, password=f"guess-{i}") for i in range(count)
    )
    return f"mutation {{ {fields} }}"


# ---------------------------------------------------------------------- mutation root fields
@pytest.mark.parametrize("count", [26, 200, 1000])
def test_too_many_mutation_root_fields_are_refused(api_server: ApiServer, count: int) -> None:
    fields = " ".join(
        f'r{i}: revokeAccessToken(input: {{id: "x{i}"}}) {{ clientMutationId }}'
        for i in range(count)
    )
    response = api_server.graphql(f"mutation {{ {fields} }}")
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"] == {"code": "TOO_MANY_MUTATIONS", "limit": 25}
    assert f"{count} mutation fields in one operation exceed the limit of 25" in error["message"]
    assert "GITSTORE_API__MAX_MUTATION_FIELDS" in error["message"]


def test_mutation_fields_are_counted_through_fragments(api_server: ApiServer) -> None:
    def ten(prefix: str) -> str:
        return " ".join(
            f'{prefix}{i}: revokeAccessToken(input: {{id: "x{i}"}}) {{ clientMutationId }}'
            for i in range(10)
        )

    query = (
        "mutation { ...A ...B ... on Mutation { ...A } }"
        f" fragment A on Mutation {{ {ten('a')} }}"
        f" fragment B on Mutation {{ {ten('b')} ...C }}"
        f" fragment C on Mutation {{ {ten('c')} }}"
    )
    error = only_error(api_server.graphql(query))
    assert error["extensions"]["code"] == "TOO_MANY_MUTATIONS"
    assert error["message"].startswith("30 mutation fields")  # A's ten keys count once


def test_mutation_fields_up_to_the_limit_run(api_server: ApiServer) -> None:
    _, token = api_server.user_token()
    fields = " ".join(
        f'r{i}: revokeAccessToken(input: {{id: "x{i}"}}) {{ userErrors {{ code }} }}'
        for i in range(25)
    )
    response = api_server.graphql(f"mutation {{ {fields} }}", token=token)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["data"]) == 25


def test_the_mutation_field_limit_is_a_setting(api_server_factory) -> None:
    server = api_server_factory(**{"api.max_mutation_fields": 2})
    fields = " ".join(
        f'r{i}: revokeAccessToken(input: {{id: "x{i}"}}) {{ clientMutationId }}' for i in range(3)
    )
    error = only_error(server.graphql(f"mutation {{ {fields} }}"))
    assert error["extensions"] == {"code": "TOO_MANY_MUTATIONS", "limit": 2}


# ---------------------------------------------------------------------- login once
@pytest.mark.parametrize("count", [2, 10, 1000])
def test_login_is_allowed_once_per_operation(api_server: ApiServer, count: int) -> None:
    user = api_server.create_user()
    response = api_server.graphql(logins(count, user.username))
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"] == {"code": "FIELD_REPEATED", "field": "login", "limit": 1}
    assert error["message"] == (
        f"login may be selected at most once per operation, found {count} (aliases included)"
    )


def test_login_through_fragments_and_mixed_with_other_mutations(api_server: ApiServer) -> None:
    query = (
        'mutation { a: login(input: {username: "x", password: "y1234567"}) { token } ...F'
        ' revokeAccessToken(input: {id: "x"}) { clientMutationId } }'
        ' fragment F on Mutation { b: login(input: {username: "x", password: "z"}) { token } }'
    )
    response = api_server.graphql(query, accept=JSON)
    assert response.status_code == 200  # a validation error, application/json
    assert only_error(response)["extensions"]["code"] == "FIELD_REPEATED"


def test_one_login_still_works(api_server: ApiServer) -> None:
    user = api_server.create_user()
    assert api_server.login(user.username)


# ---------------------------------------------------------------------- introspection
def test_the_standard_introspection_query_works(api_server: ApiServer) -> None:
    for descriptions in (True, False):
        query = get_introspection_query(descriptions=descriptions, input_value_deprecation=True)
        response = api_server.graphql(query)
        assert response.status_code == 200, response.text[:500]
        schema = response.json()["data"]["__schema"]
        assert schema["queryType"]["name"] == "Query"
        assert any(t["name"] == "Mutation" for t in schema["types"])


@pytest.mark.parametrize("count", [2, 200])
def test_aliased_schema_introspection_is_refused(api_server: ApiServer, count: int) -> None:
    fields = " ".join(
        f"s{i}: __schema {{ types {{ name fields {{ name }} }} }}" for i in range(count)
    )
    response = api_server.graphql(f"{{ {fields} }}")
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"] == {"code": "FIELD_REPEATED", "field": "__schema", "limit": 1}
    assert (
        f"__schema may be selected at most once per operation, found {count}" in (error["message"])
    )


def test_the_full_introspection_query_aliased_is_refused(api_server: ApiServer) -> None:
    query = get_introspection_query().replace("__schema", "a: __schema", 1)
    query = query.replace("a: __schema {", "a: __schema { queryType { name } } b: __schema {", 1)
    error = only_error(api_server.graphql(query))
    assert error["extensions"]["code"] == "FIELD_REPEATED"


def test_type_lookups_are_bounded(api_server: ApiServer) -> None:
    ten = " ".join(f't{i}: __type(name: "Query") {{ name }}' for i in range(10))
    assert api_server.graphql(f"{{ {ten} }}").status_code == 200
    many = " ".join(f't{i}: __type(name: "Query") {{ fields {{ name }} }}' for i in range(300))
    error = only_error(api_server.graphql(f"{{ {many} }}"))
    assert error["extensions"] == {"code": "FIELD_REPEATED", "field": "__type", "limit": 10}


@pytest.fixture(scope="module")
def tree_server(tmp_path_factory: pytest.TempPathFactory):
    from .server import api_settings, start_api_server

    settings = api_settings(tmp_path_factory.mktemp("hostile-limits"))
    with start_api_server(settings, modules=[IdentityModule(), TreeModule()]) as server:
        yield server


@pytest.mark.parametrize(
    ("field", "count"),
    [("__typename", 5001), ("tree { name }", 2501), ("tree { __typename name }", 1700)],
)
def test_many_root_aliases_are_bounded_by_the_cost(
    tree_server: ApiServer, field: str, count: int
) -> None:
    query = "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"
    response = tree_server.graphql(query)
    assert response.status_code == 400, response.text[:300]
    error = only_error(response)
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > 5000


def test_introspection_counts_in_the_cost(api_server_factory) -> None:
    server = api_server_factory(modules=[IdentityModule(), TreeModule()], **{"api.max_cost": 3})
    ok = server.graphql("{ __schema { queryType { name } } }")  # 3 fields
    assert ok.status_code == 200, ok.text
    costly = only_error(server.graphql("{ __schema { queryType { name kind } } }"))
    assert costly["extensions"] == {"code": "QUERY_TOO_COSTLY", "limit": 3, "cost": 4}
