"""Hostile request bodies: JSON nested past the parser, JSON extensions that are not JSON,
and bodies that are not UTF-8. Each gets a clear 4xx naming the problem, never a 500."""

from __future__ import annotations

import codecs
import json

import pytest

from .server import GRAPHQL_RESPONSE, JSON, ApiServer

VIEWER = "{ viewer { username } }"


def post(server: ApiServer, body: bytes, content_type: str = JSON):
    return server.client.post(
        "/graphql", content=body, headers={"Content-Type": content_type, "Accept": JSON}
    )


def only_error(response) -> dict:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def deep(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


@pytest.mark.parametrize(
    "nested",
    [
        deep(100_000),
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "[" * 100_000,  # never closed: the parser gives up on depth first
    ],
)
def test_post_body_nested_past_the_parser_is_400(api_server: ApiServer, nested: str) -> None:
    for body in (nested, f'{{"query": "{VIEWER}", "variables": {{"x": {nested}}}}}'):
        response = post(api_server, body.encode())
        assert response.status_code == 400
        error = only_error(response)
        assert error["message"] == "the body is nested too deeply to parse as JSON"
        assert error["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("name", ["variables", "extensions"])
@pytest.mark.parametrize("nested", [deep(3000), "[" * 3000, '{"a":' * 2000 + "1" + "}" * 2000])
def test_get_params_nested_past_the_parser_are_400(
    api_server: ApiServer, name: str, nested: str
) -> None:
    response = api_server.client.get(
        "/graphql", params={"query": VIEWER, name: nested}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 400
    error = only_error(response)
    assert error["message"] == f"URL parameter {name} is nested too deeply to parse as JSON"


def test_json_nested_within_the_parser_still_works(api_server: ApiServer) -> None:
    query = "query Q($x: Boolean!) { viewer @include(if: $x) { username } }"
    body = {"query": query, "variables": {"x": True}, "extensions": {"a": json.loads(deep(200))}}
    response = post(api_server, json.dumps(body).encode())
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": None}}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("where", ["variables", "extensions", "top"])
def test_nan_and_infinities_are_not_json(api_server: ApiServer, constant: str, where: str) -> None:
    if where == "top":
        body = f'{{"query": "{VIEWER}", "x": {constant}}}'
    else:
        body = f'{{"query": "{VIEWER}", "{where}": {{"n": {constant}}}}}'
    response = post(api_server, body.encode())
    assert response.status_code == 400
    error = only_error(response)
    assert error["message"].startswith("the body is not valid JSON:")
    assert f"{constant} is not a JSON value" in error["message"]


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "1.5e400"])
def test_numbers_out_of_range_are_400(api_server: ApiServer, literal: str) -> None:
    response = post(
        api_server, f'{{"query": "{VIEWER}", "variables": {{"n": {literal}}}}}'.encode()
    )
    assert response.status_code == 400
    assert f"the number {literal} is out of range" in only_error(response)["message"]


@pytest.mark.parametrize("name", ["variables", "extensions"])
@pytest.mark.parametrize("constant", ["NaN", "-Infinity"])
def test_get_params_with_nan_are_400(api_server: ApiServer, name: str, constant: str) -> None:
    response = api_server.client.get(
        "/graphql", params={"query": VIEWER, name: f'{{"n": {constant}}}'}
    )
    assert response.status_code == 400
    message = only_error(response)["message"]
    assert message.startswith(f"URL parameter {name} is not valid JSON")
    assert constant in message


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),  # with a BOM
        lambda text: text.encode("utf-16-le"),
        lambda text: text.encode("utf-16-be"),
        lambda text: text.encode("utf-32"),
        lambda text: text.encode("utf-32-le"),
        lambda text: text.encode("utf-32-be"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    ],
)
def test_utf16_and_utf32_bodies_are_415(api_server: ApiServer, encode) -> None:
    response = post(api_server, encode(json.dumps({"query": VIEWER})))
    assert response.status_code == 415
    error = only_error(response)
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "UTF-8 (RFC 8259)" in error["message"]


@pytest.mark.parametrize("charset", ["utf-16", "UTF-32", "latin-1", '"utf-16le"'])
def test_a_charset_other_than_utf8_is_415(api_server: ApiServer, charset: str) -> None:
    body = json.dumps({"query": VIEWER}).encode("utf-16" if "16" in charset else "utf-8")
    response = post(api_server, body, f"{JSON}; charset={charset}")
    assert response.status_code == 415
    assert only_error(response)["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("body", [b'{"query": "\xff"}', b'{"query": "\xed\xa0\x80"}'])
def test_bodies_that_are_not_utf8_are_400(api_server: ApiServer, body: bytes) -> None:
    response = post(api_server, body)
    assert response.status_code == 400
    assert only_error(response)["message"].startswith("the body is not valid UTF-8")


def test_a_utf8_bom_is_ignored(api_server: ApiServer) -> None:
    response = post(api_server, codecs.BOM_UTF8 + json.dumps({"query": VIEWER}).encode())
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": None}}


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ viewer\ud800 { username } }", "D800"), ('{ viewer(x: "\udfff") { username } }', "DFFF")],
)
def test_a_lone_surrogate_in_the_query_is_a_parse_error(
    api_server: ApiServer, query: str, code: str
) -> None:
    response = post(api_server, json.dumps({"query": query}).encode())  # sent as \\udxxx
    assert response.status_code == 200  # a parse error, application/json
    error = only_error(response)
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "Invalid character" in error["message"] and f"U+{code}" in error["message"]
