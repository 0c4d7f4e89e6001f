"""Depth and cost limits reject abusive queries with a clear error; normal ones pass."""

from __future__ import annotations

import pytest
from graphql import get_introspection_query

from gitstore.api.graphql.identity import IdentityModule

from .modules import TreeModule, nested
from .server import JSON, ApiServer


@pytest.fixture(scope="module")
def tree_server(tmp_path_factory: pytest.TempPathFactory):
    from .server import api_settings, start_api_server

    settings = api_settings(tmp_path_factory.mktemp("limits"))
    with start_api_server(settings, modules=[IdentityModule(), TreeModule()]) as server:
        yield server


def error_of(response) -> dict:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def test_query_at_the_depth_limit_runs(tree_server: ApiServer) -> None:
    response = tree_server.graphql(nested(12))
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


def test_query_past_the_depth_limit_is_rejected(tree_server: ApiServer) -> None:
    response = tree_server.graphql(nested(13))
    assert response.status_code == 400
    error = error_of(response)
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert error["extensions"]["limit"] == 12
    assert "query depth 13 exceeds the limit of 12" in error["message"]
    assert "GITSTORE_API__MAX_DEPTH" in error["message"]


def test_depth_through_fragments_counts(tree_server: ApiServer) -> None:
    query = (
        "query { tree { ...A } }"
        " fragment A on Tree { child { child { child { ...B } } } }"
        " fragment B on Tree { child { child { child { ...C } } } }"
        " fragment C on Tree { child { child { child { child { child { name } } } } } }"
    )
    response = tree_server.graphql(query)
    assert error_of(response)["extensions"]["code"] == "QUERY_TOO_DEEP"


def test_very_deep_query_is_rejected_without_deep_recursion(tree_server: ApiServer) -> None:
    response = tree_server.graphql(nested(200))
    assert response.status_code == 400
    error = error_of(response)
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "at least" in error["message"]


def test_query_nested_beyond_the_parser_is_a_parse_error_not_a_crash(
    tree_server: ApiServer,
) -> None:
    response = tree_server.graphql("{ tree " + "{ child " * 3000 + "}" * 3001)
    assert response.status_code == 400
    assert error_of(response)["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_cost_limit_multiplies_by_first(tree_server: ApiServer) -> None:
    cheap = "{ tree { children(first: 10) { children(first: 10) { name } } } }"
    assert tree_server.graphql(cheap).status_code == 200
    costly = "{ tree { children(first: 100) { children(first: 100) { name } } } }"
    response = tree_server.graphql(costly)
    assert response.status_code == 400
    error = error_of(response)
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "limit": 5000, "cost": 10102}
    assert "query cost 10102 exceeds the limit of 5000" in error["message"]


def test_cost_of_a_variable_first_is_the_largest_page(tree_server: ApiServer) -> None:
    query = "query Q($n: Int) { tree { children(first: $n) { children(first: $n) { name } } } }"
    response = tree_server.graphql(query, {"n": 2})
    assert error_of(response)["extensions"]["cost"] == 10102


def test_cost_uses_the_default_first_when_omitted(tree_server: ApiServer) -> None:
    # default first is 10: 1 + 1 + 10 * (1 + 10 * 1) = 112, well under the limit
    response = tree_server.graphql("{ tree { children { children { name } } } }")
    assert response.status_code == 200


def test_limits_are_configurable(api_server_factory) -> None:
    server = api_server_factory(
        modules=[IdentityModule(), TreeModule()], **{"api.max_depth": 3, "api.max_cost": 20}
    )
    assert error_of(server.graphql(nested(4)))["extensions"]["limit"] == 3
    costly = server.graphql("{ tree { children(first: 30) { name } } }")
    assert error_of(costly)["extensions"]["limit"] == 20


def test_limit_rejections_are_200_with_application_json(tree_server: ApiServer) -> None:
    response = tree_server.graphql(nested(13), accept=JSON)
    assert response.status_code == 200
    assert error_of(response)["extensions"]["code"] == "QUERY_TOO_DEEP"


def test_introspection_is_not_limited(tree_server: ApiServer) -> None:
    response = tree_server.graphql(get_introspection_query())
    assert response.status_code == 200, response.text[:500]
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
