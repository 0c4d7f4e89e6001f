"""Automatic Persisted Queries and the document cache, observed over HTTP and in /metrics."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from .server import GRAPHQL_RESPONSE, JSON, ApiServer


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def pq(digest: str, version: int = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def metric(server: ApiServer, name: str, labels: str = "") -> float:
    text = server.client.get("/metrics").text
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


# ---------------------------------------------------------------------- APQ
def test_register_then_run_by_hash_only(api_server: ApiServer) -> None:
    query = "query ApqRegister { viewer { username } __typename }"
    registered = api_server.graphql(query, extensions=pq(sha(query)))
    assert registered.status_code == 200
    assert registered.json() == {"data": {"viewer": None, "__typename": "Query"}}
    hits_before = metric(api_server, "gitstore_api_apq_requests_total", 'outcome="hit"')
    by_hash = api_server.graphql(None, extensions=pq(sha(query)))
    assert by_hash.status_code == 200
    assert by_hash.json() == registered.json()
    assert metric(api_server, "gitstore_api_apq_requests_total", 'outcome="hit"') == hits_before + 1


def test_hash_only_over_get(api_server: ApiServer) -> None:
    query = "query ApqGet { __typename }"
    api_server.graphql(query, extensions=pq(sha(query)))
    response = api_server.client.get("/graphql", params={"extensions": json.dumps(pq(sha(query)))})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE, 400), (JSON, 200)])
def test_unknown_hash_answers_persisted_query_not_found(
    api_server: ApiServer, accept: str, status: int
) -> None:
    response = api_server.graphql(None, extensions=pq("ab" * 32), accept=accept)
    assert response.status_code == status
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
def test_hash_mismatch_is_400(api_server: ApiServer, accept: str) -> None:
    response = api_server.graphql("{ __typename }", extensions=pq("00" * 32), accept=accept)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert sha("{ __typename }") in error["message"]


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (pq("ab" * 32, version=2), "version 2 is not supported"),
        (pq("not-a-hash"), "64 hex digits"),
        ({"persistedQuery": "x"}, "must be an object"),
    ],
)
def test_bad_persisted_query_extensions_are_400(
    api_server: ApiServer, extensions: dict, message: str
) -> None:
    response = api_server.graphql(None, extensions=extensions)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


def test_apq_store_is_bounded(api_server_factory) -> None:
    server = api_server_factory(**{"api.apq_cache_size": 1})
    first, second = "query One { __typename }", "query Two { __typename }"
    server.graphql(first, extensions=pq(sha(first)))
    server.graphql(second, extensions=pq(sha(second)))
    assert server.graphql(None, extensions=pq(sha(second))).status_code == 200
    evicted = server.graphql(None, extensions=pq(sha(first)))
    assert evicted.json()["errors"][0]["message"] == "PersistedQueryNotFound"


# ---------------------------------------------------------------------- document cache
def test_repeated_query_hits_the_document_cache(api_server: ApiServer) -> None:
    query = "query CacheMe { viewer { username } }"
    hits = metric(api_server, "gitstore_api_document_cache_hits_total")
    misses = metric(api_server, "gitstore_api_document_cache_misses_total")
    for _ in range(3):
        assert api_server.graphql(query).status_code == 200
    assert metric(api_server, "gitstore_api_document_cache_misses_total") == misses + 1
    assert metric(api_server, "gitstore_api_document_cache_hits_total") == hits + 2


def test_invalid_documents_are_not_cached(api_server: ApiServer) -> None:
    query = "query NotCached { viewer { nope } }"
    hits = metric(api_server, "gitstore_api_document_cache_hits_total")
    for _ in range(2):
        assert api_server.graphql(query).status_code == 400
    assert metric(api_server, "gitstore_api_document_cache_hits_total") == hits


def test_document_cache_can_be_disabled(api_server_factory) -> None:
    server = api_server_factory(**{"api.document_cache": False})
    for _ in range(3):
        assert server.graphql("{ viewer { username } }").status_code == 200
    assert metric(server, "gitstore_api_document_cache_hits_total") == 0
    assert metric(server, "gitstore_api_document_cache_misses_total") == 0


def test_schema_swap_invalidates_cached_documents(api_server_factory) -> None:
    server = api_server_factory()
    query = "{ viewer { username } }"
    server.graphql(query)
    server.graphql(query)
    assert metric(server, "gitstore_api_document_cache_hits_total") == 1
    result = server.services.rebuild_schema()
    assert result.ok and result.version == 2
    server.graphql(query)
    assert metric(server, "gitstore_api_document_cache_misses_total") == 2
    assert metric(server, "gitstore_api_schema_version") == 2
