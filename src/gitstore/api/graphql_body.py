"""What a GraphQL-over-HTTP request carries, read and checked before anything runs.

The body of a POST is JSON in UTF-8 only (RFC 8259; UTF-16/32 is 415), numbers finite, no
NaN or infinities, nesting bounded by the parser; the four parameters have their types
(``query``/``operationName`` strings, ``variables``/``extensions`` objects); the body is read
from ASGI ``receive`` with a byte limit (413). Every refusal is a ``Reject``: status and
body final. Shared by the plain endpoint (``graphql_http``) and the SSE transport.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request

from .errors import request_error


class Reject(Exception):
    """A request refused before execution: status and body are final."""

    def __init__(
        self,
        status: int,
        errors: list[dict[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class Params:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


class _NotJson(ValueError):
    """A JSON extension Python's parser accepts and RFC 8259 does not."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value (RFC 8259 has no NaN or infinities)")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if value in (_INF, -_INF):  # 1e999: valid JSON syntax, but no finite number
        raise _NotJson(f"the number {literal[:40]} is out of range")
    return value


_INF = float("inf")
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def json_body(raw: bytes) -> Any:
    """The JSON value of a POST body: UTF-8 only (RFC 8259 section 8.1; a leading UTF-8 BOM
    is ignored, which the RFC allows). A body in UTF-16 or UTF-32 (recognised by its BOM or
    the NUL bytes of an ASCII first character) is 415, anything else that is not JSON 400."""
    if raw[:2] in _UTF16_BOMS or b"\x00" in raw[:4]:
        raise Reject(
            415,
            [
                request_error(
                    "the body must be JSON in UTF-8 (RFC 8259); it looks like UTF-16 or UTF-32",
                    "UNSUPPORTED_MEDIA_TYPE",
                )
            ],
        )
    try:
        text = raw.decode()
    except UnicodeDecodeError as exc:
        raise Reject(
            400,
            [request_error(f"the body is not valid UTF-8: byte {exc.start}", "BAD_REQUEST")],
        ) from None
    if text[:1] == "\ufeff":
        text = text[1:]
    return json_text(text, "the body")


def json_text(text: str, what: str) -> Any:
    try:
        return _DECODER.decode(text)
    except RecursionError:
        message = f"{what} is nested too deeply to parse as JSON"
    except ValueError as exc:  # json.JSONDecodeError, _NotJson, int() over 4300 digits
        message = f"{what} is not valid JSON: {exc}"
    raise Reject(400, [request_error(message, "BAD_REQUEST")])


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # also the start of UTF-32's BOMs

_EXPECTED: tuple[tuple[str, type, str], ...] = (
    ("query", str, "a string"),
    ("operationName", str, "a string"),
    ("variables", dict, "an object"),
    ("extensions", dict, "an object"),
)


def params_of(payload: dict[str, Any]) -> Params:
    for name, kind, text in _EXPECTED:
        value = payload.get(name)
        if value is not None and not isinstance(value, kind):
            raise Reject(400, [request_error(f"{name} must be {text} or null", "BAD_REQUEST")])
    return Params(
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
        payload.get("extensions"),
    )


async def read_body(request: Request, declared: str | None, limit: int) -> bytes:
    """The request body, read from the ASGI ``receive`` (413 past ``limit`` bytes)."""
    too_large = Reject(
        413, [request_error(f"the body is larger than {limit} bytes", "PAYLOAD_TOO_LARGE")]
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(chunk)
            if size > limit:
                raise too_large
            if not more and not chunks:
                return chunk  # the whole body in one message (the usual case)
            chunks.append(chunk)
            if not more:
                return b"".join(chunks)
        elif kind == "http.disconnect":
            raise ClientDisconnect()
