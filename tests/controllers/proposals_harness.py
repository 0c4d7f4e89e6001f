"""Helpers for the proposing controllers' tests: a WRITE token, change-request queries, and a
local OpenAI-compatible chat-completions server (real HTTP over a socket, canned answers)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gitstore.controllers.client import ApiClient

from .harness import Catalog

WRITER = """mutation { createAccessToken(input: {name: "proposer", scopes: [READ, WRITE]}) {
  secret userErrors { code message } } }"""
LIST = """query($r: String!) { changeRequests(repository: $r, first: 100) {
  edges { node { id number state sourceBranch headSha title description
    comments { body } diff { kind name op fields { path op old new } } } } } }"""
MERGE = """mutation($i: MergeChangeRequestInput!) { mergeChangeRequest(input: $i) {
  mergeSha userErrors { field message code } } }"""


def proposer(catalog: Catalog) -> ApiClient:
    created = catalog.served.data(WRITER, token=catalog.owner_token)["createAccessToken"]
    assert created["userErrors"] == [], created
    return ApiClient(catalog.url, created["secret"])


async def change_requests(client: ApiClient, repository: str) -> list[dict[str, Any]]:
    data = await client.execute(LIST, {"r": repository})
    return [edge["node"] for edge in data["changeRequests"]["edges"]]


Answer = Callable[[dict[str, Any]], tuple[int, str]]


@contextmanager
def chat_server(answer: Answer) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible ``/v1/chat/completions`` on 127.0.0.1 (port chosen by the OS):
    ``answer(request_body) -> (status, content)``. Yields its base URL and the requests seen
    (body plus ``authorization`` header)."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            seen.append({**body, "authorization": self.headers.get("Authorization")})
            if self.path != "/v1/chat/completions":
                status, payload = 404, {"error": {"message": "not found"}}
            else:
                status, content = answer(body)
                payload = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                }
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
