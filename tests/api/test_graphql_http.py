"""The GraphQL-over-HTTP contract of /graphql, against a real server over HTTP."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from graphql import GraphQLField, GraphQLNonNull, GraphQLString

from gitstore.api.graphql.builder import SchemaBuilder
from gitstore.api.graphql.identity import IdentityModule
from gitstore.backends.metadata.memory import MemoryMetadataStore
from gitstore.domain.errors import GitStoreError, Unavailable

from .server import GRAPHQL_RESPONSE, JSON, ApiServer

VIEWER = "{ viewer { username } }"
MUTATION = 'mutation { login(input: {username: "nobody", password: "whatever1"}) { token } }'


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


# ---------------------------------------------------------------------- media types
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (JSON, JSON),
        (None, JSON),  # no Accept: the legacy default
        ("*/*", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),  # a tie prefers the new type
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        (f"{JSON}, */*;q=0.1", JSON),
    ],
)
def test_response_media_type_follows_accept(
    api_server: ApiServer, accept: str | None, expected: str
) -> None:
    response = api_server.graphql(VIEWER, accept=accept)
    assert response.status_code == 200
    assert media(response) == expected
    assert response.json() == {"data": {"viewer": None}}


def test_accept_without_a_supported_type_is_406(api_server: ApiServer) -> None:
    response = api_server.graphql(VIEWER, accept="text/html")
    assert response.status_code == 406
    assert "Accept must allow" in response.json()["errors"][0]["message"]


def test_get_runs_a_query(api_server: ApiServer) -> None:
    response = api_server.client.get(
        "/graphql",
        params={
            "query": "query Q($x: Boolean!) { viewer @include(if: $x) { username } }",
            "variables": json.dumps({"x": True}),
        },
        headers={"Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": None}}


def test_get_refuses_a_mutation_with_405(api_server: ApiServer) -> None:
    response = api_server.client.get("/graphql", params={"query": MUTATION})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "not allowed over GET" in response.json()["errors"][0]["message"]


def test_get_with_bad_variables_json_is_400(api_server: ApiServer) -> None:
    response = api_server.client.get("/graphql", params={"query": VIEWER, "variables": "{"})
    assert response.status_code == 400
    assert "variables" in response.json()["errors"][0]["message"]


# ---------------------------------------------------------------------- malformed requests
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "batched requests are not supported"),
        (b'"query"', "must be a JSON object"),
        (b"{}", "the request has no query"),
        (b'{"query": 42}', "query must be a string"),
        (b'{"query": "{ viewer { username } }", "variables": [1]}', "variables must be an object"),
    ],
)
def test_malformed_requests_are_400_in_both_media_types(
    api_server: ApiServer, accept: str, body: bytes, message: str
) -> None:
    response = api_server.client.post(
        "/graphql", content=body, headers={"Content-Type": JSON, "Accept": accept}
    )
    assert response.status_code == 400
    assert media(response) == accept
    error = response.json()["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/graphql", None])
def test_unsupported_content_type_is_415(api_server: ApiServer, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api_server.client.post(
        "/graphql", content=json.dumps({"query": VIEWER}).encode(), headers=headers
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_oversized_body_is_413(api_server_factory) -> None:
    server = api_server_factory(**{"api.max_body_bytes": 2048})
    response = server.graphql("{ viewer { username } }" + " " * 4096)
    assert response.status_code == 413


# ---------------------------------------------------------------------- GraphQL request errors
@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE, 400), (JSON, 200)])
def test_validation_error_status_depends_on_media_type(
    api_server: ApiServer, accept: str, status: int
) -> None:
    response = api_server.graphql("{ viewer { nosuchfield } }", accept=accept)
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "nosuchfield" in body["errors"][0]["message"]


@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE, 400), (JSON, 200)])
def test_parse_error_status_depends_on_media_type(
    api_server: ApiServer, accept: str, status: int
) -> None:
    response = api_server.graphql("{ viewer { ", accept=accept)
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_variable_coercion_error_is_a_request_error(api_server: ApiServer) -> None:
    response = api_server.graphql(
        "mutation M($u: String!) { login(input: {username: $u, password: $u}) { token } }",
        {"u": 5},
    )
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert "$u" in body["errors"][0]["message"]


def test_operation_name_selects_and_unknown_name_is_a_request_error(
    api_server: ApiServer,
) -> None:
    document = "query A { viewer { username } } query B { __typename }"
    assert api_server.graphql(document, operation_name="B").json() == {
        "data": {"__typename": "Query"}
    }
    missing = api_server.graphql(document)
    assert missing.status_code == 400
    assert "operationName" in missing.json()["errors"][0]["message"]
    unknown = api_server.graphql(document, operation_name="C")
    assert unknown.status_code == 400
    assert "'C'" in unknown.json()["errors"][0]["message"]


def test_request_id_is_echoed_or_generated(api_server: ApiServer) -> None:
    given = api_server.graphql(VIEWER, headers={"X-Request-Id": "req-123"})
    assert given.headers["x-request-id"] == "req-123"
    made = api_server.graphql(VIEWER, headers={"X-Request-Id": "bad id with spaces"})
    assert made.headers["x-request-id"] not in ("", "bad id with spaces")


# ---------------------------------------------------------------------- no tracebacks
class ExplodingModule:
    name = "exploding"

    def contribute(self, builder: SchemaBuilder) -> None:
        def boom(_root: object, _info: object) -> str:
            raise RuntimeError("secret detail /etc/passwd")

        builder.add_query_field("boom", GraphQLField(GraphQLNonNull(GraphQLString), resolve=boom))

        def internal(_root: object, _info: object) -> str:
            raise GitStoreError("git service: INTERNAL: /srv/repos/acme.git is corrupt")

        builder.add_query_field("internal", GraphQLField(GraphQLString, resolve=internal))


def test_unexpected_exceptions_never_reach_the_client(
    api_server_factory, caplog: pytest.LogCaptureFixture
) -> None:
    server = api_server_factory(modules=[IdentityModule(), ExplodingModule()])
    with caplog.at_level(logging.ERROR, logger="gitstore.api"):
        response = server.graphql("{ boom }", headers={"X-Request-Id": "trace-me"})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "internal error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["boom"],
            "extensions": {"code": "INTERNAL", "requestId": "trace-me"},
        }
    ]
    assert "secret detail" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if "trace-me" in r.getMessage()]
    assert logged and logged[0].exc_info is not None


# ---------------------------------------------------------------------- healthz and metrics
def test_healthz_is_ok_once_ready(api_server: ApiServer) -> None:
    response = api_server.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_is_503_before_start(tmp_path) -> None:
    from gitstore.api.app import create_app

    from .server import api_settings

    app = create_app(api_settings(tmp_path))  # lifespan not run: never started
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/healthz")
    assert response.status_code == 503


def test_metrics_exposes_requests_latency_and_errors(api_server: ApiServer) -> None:
    api_server.graphql(VIEWER)
    api_server.graphql("{ viewer { nosuchfield } }")
    response = api_server.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'gitstore_api_requests_total{method="POST",route="graphql",status="200"}' in text
    assert 'gitstore_api_graphql_operations_total{operation="query.viewer"}' in text
    assert 'gitstore_api_graphql_duration_seconds_count{operation="query.viewer"}' in text
    assert 'gitstore_api_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}' in text
    assert "gitstore_api_schema_version 1.0" in text


def test_two_apps_in_one_process_have_separate_metrics(api_server, api_server_factory) -> None:
    api_server.graphql(VIEWER)
    assert 'operation="query.viewer"' in api_server.client.get("/metrics").text
    other = api_server_factory()
    other.graphql("{ __typename }")
    text = other.client.get("/metrics").text
    assert 'operation="query.__typename"' in text
    assert 'operation="query.viewer"' not in text


def test_errors_that_are_nobodys_fault_are_masked_too(api_server_factory) -> None:
    server = api_server_factory(modules=[IdentityModule(), ExplodingModule()])
    response = server.graphql("{ internal }")
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "internal error" and error["extensions"]["code"] == "INTERNAL"
    assert "/srv/repos" not in response.text


class DownStore(MemoryMetadataStore):
    async def get_token_by_hash(self, token_hash: str):
        raise Unavailable("the metadata store is unreachable")


def test_unavailable_store_during_authentication_is_503(api_server_factory) -> None:
    server = api_server_factory(metadata_store=DownStore())
    response = server.graphql(VIEWER, token="gst_" + "a" * 43)
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
