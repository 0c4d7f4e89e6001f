"""A test-only Smart HTTP front for the git service's smart-protocol RPCs.

The real relay lives in the API (api/githttp); the git service's transport tests need a
real ``git`` client without the API, so this is the smallest faithful relay: a threaded
``http.server`` on ``127.0.0.1:0`` that maps

* ``GET /<ns>/<name>.git/info/refs?service=S`` -> ``AdvertiseRefs`` (plus the
  ``# service=S`` pkt-line and flush that HTTP adds, unless the client asked for protocol v2);
* ``POST /<ns>/<name>.git/git-upload-pack|git-receive-pack`` -> ``UploadPack`` /
  ``ReceivePack`` (chunked and gzip request bodies decoded, the body streamed in 64 KiB
  messages), answering with git's output as it arrives (HTTP/1.0, ended by closing).

Every request gets the ``PushContext`` in ``shim.context`` (username, transport "http", a
fresh push id recorded in ``shim.push_ids``). No authentication: that is the API's job.
"""

from __future__ import annotations

import http.server
import re
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc

from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.git.v1 import git_service_pb2_grpc as pb_grpc

_PATH = re.compile(
    r"^/([a-z0-9-]+)/([a-z0-9-]+)\.git/(info/refs|git-upload-pack|git-receive-pack)$"
)
_CHUNK = 64 * 1024


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


class Shim:
    def __init__(self, stub: pb_grpc.GitServiceStub, username: str) -> None:
        self.stub = stub
        self.username = username
        self.push_ids: list[str] = []

    def context(self, remote: str) -> pb.PushContext:
        push_id = uuid.uuid4().hex
        self.push_ids.append(push_id)
        return pb.PushContext(
            username=self.username, transport="http", push_id=push_id, remote_address=remote
        )


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _fail(self, exc: grpc.RpcError) -> None:
        status = 404 if exc.code() == grpc.StatusCode.NOT_FOUND else 400
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(f"{exc.code().name}: {exc.details()}\n".encode())

    def _stream(self, content_type: str, responses: Iterator[pb.PackResponse], head: bytes) -> None:
        try:
            first = next(responses, None)
        except grpc.RpcError as exc:
            self._fail(exc)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(head)
        if first is not None:
            self.wfile.write(first.data)
        for message in responses:
            self.wfile.write(message.data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        found = _PATH.match(url.path)
        service = parse_qs(url.query).get("service", [""])[0]
        if found is None or found.group(3) != "info/refs" or not service:
            self.send_error(404)
            return
        repo = f"{found.group(1)}/{found.group(2)}"
        protocol = self.headers.get("Git-Protocol", "")
        request = pb.AdvertiseRefsRequest(
            repository_id=repo,
            service=service,
            git_protocol=protocol,
            context=self.server.shim.context(self.client_address[0]),
        )
        head = b"" if "version=2" in protocol else pkt_line(f"# service={service}\n") + b"0000"
        responses = iter(self.server.shim.stub.AdvertiseRefs(request))
        self._stream(f"application/x-{service}-advertisement", responses, head)

    def _body(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._chunks()
        else:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self._sized(length)
        encoding = self.headers.get("Content-Encoding", "")
        if encoding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            for piece in raw:
                yield decoder.decompress(piece)
            yield decoder.flush()
        else:
            yield from raw

    def _sized(self, length: int) -> Iterator[bytes]:
        while length > 0:
            piece = self.rfile.read(min(_CHUNK, length))
            if not piece:
                return
            length -= len(piece)
            yield piece

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def do_POST(self) -> None:
        found = _PATH.match(urlsplit(self.path).path)
        if found is None or found.group(3) == "info/refs":
            self.send_error(404)
            return
        repo, service = f"{found.group(1)}/{found.group(2)}", found.group(3)
        protocol = self.headers.get("Git-Protocol", "")
        context = self.server.shim.context(self.client_address[0])

        def messages() -> Iterator[pb.PackRequest]:
            yield pb.PackRequest(repository_id=repo, git_protocol=protocol, context=context)
            for piece in self._body():
                for start in range(0, len(piece), _CHUNK):
                    yield pb.PackRequest(data=piece[start : start + _CHUNK])

        call = (
            self.server.shim.stub.UploadPack
            if service == "git-upload-pack"
            else self.server.shim.stub.ReceivePack
        )
        self._stream(f"application/x-{service}-result", iter(call(messages())), b"")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    shim: Shim


@contextmanager
def serve_git_http(grpc_address: str, *, username: str = "ada") -> Iterator[tuple[str, Shim]]:
    """Serve the shim until the block ends; yields ``(base_url, shim)``."""
    with grpc.insecure_channel(grpc_address) as channel:
        shim = Shim(pb_grpc.GitServiceStub(channel), username)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.shim = shim
        thread = threading.Thread(target=server.serve_forever, name="git-http-shim", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", shim
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
