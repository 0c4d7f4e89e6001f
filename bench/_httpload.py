"""A small HTTP/1.1 keep-alive load generator on raw non-blocking sockets and one selector.

Throughput benchmarks on the 2-core dev box share the CPU between the server and the load
generator, so the generator must be cheap and must cost the same for every route it is
pointed at. This one sends pre-built request bytes over ``concurrency`` keep-alive
connections, one request in flight per connection, and reads each response just far enough
to frame it (status line, ``Content-Length``): no event loop, no HTTP library. Measured
against ``/healthz`` on the dev box it costs ~70-90 us of CPU per request, about what
asyncio streams on uvloop cost: most of it is the kernel's loopback TCP work, which is
charged to whichever process sends, so no Python generator gets much cheaper. Latency is
per request as the client sees it (queueing included).

    client = Client(port, concurrency=16)       # keep-alive connections, reused
    elapsed, latencies_ms = client.run(request_bytes(port, "/healthz"), 2000, b'"ok"')
    client.close()                              # load(...) does all three for one run

Every response must be 200 (else ``LoadError`` with the body); the first body on each
connection in a run must contain ``expect``. The server must answer with ``Content-Length`` framing
(no chunked encoding), which uvicorn does for complete bodies.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import time

_HEAD_END = b"\r\n\r\n"
_LENGTH = b"\r\ncontent-length:"


class LoadError(RuntimeError):
    pass


def request_bytes(port: int, path: str, body: bytes | None = None) -> bytes:
    """A complete HTTP/1.1 request: GET without a body, POST (JSON) with one."""
    lines = [
        f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Accept: application/graphql-response+json, application/json",
    ]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class _Connection:
    __slots__ = ("buffer", "checked", "left", "sent_at", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.left = 0
        self.buffer = bytearray()
        self.sent_at = 0
        self.checked = False


class Client:
    """``concurrency`` keep-alive connections to one server, kept open across runs (so
    benchmarks can interleave short phases without paying for new connections)."""

    def __init__(self, port: int, concurrency: int) -> None:
        self.port = port
        self.connections: list[_Connection] = []
        try:
            for _ in range(concurrency):
                sock = socket.create_connection(("127.0.0.1", port))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                self.connections.append(_Connection(sock))
        except BaseException:
            self.close()
            raise

    def run(self, request: bytes, total: int, expect: bytes) -> tuple[float, list[float]]:
        """Send ``total`` requests spread over the connections; (seconds, latencies ms).
        The first response of each connection in a run must contain ``expect``."""
        count = len(self.connections)
        busy = self.connections[: min(count, total)]
        for index, connection in enumerate(busy):
            connection.left = total // count + (1 if index < total % count else 0)
            connection.checked = False
        samples: list[float] = []
        selector = selectors.DefaultSelector()
        try:
            for connection in busy:
                selector.register(connection.sock, selectors.EVENT_READ, connection)
            started = time.perf_counter()
            for connection in busy:
                _send(connection, request)
            open_count = len(busy)
            now = time.perf_counter_ns
            while open_count:
                for key, _events in selector.select():
                    connection = key.data
                    chunk = connection.sock.recv(262144)
                    if not chunk:
                        raise LoadError("the server closed a connection")
                    buffer = connection.buffer
                    buffer += chunk
                    head_end = buffer.find(_HEAD_END)
                    if head_end < 0:
                        continue
                    end = head_end + 4 + _content_length(buffer, head_end)
                    if len(buffer) < end:
                        continue
                    samples.append((now() - connection.sent_at) / 1e6)
                    if buffer[9:12] != b"200" or not connection.checked:
                        _check(buffer, head_end, end, expect)
                        connection.checked = True
                    del buffer[:end]
                    connection.left -= 1
                    if connection.left:
                        _send(connection, request)
                    else:
                        selector.unregister(connection.sock)
                        open_count -= 1
            elapsed = time.perf_counter() - started
        finally:
            selector.close()
        return elapsed, samples

    def close(self) -> None:
        for connection in self.connections:
            connection.sock.close()
        self.connections = []


def load(
    port: int, request: bytes, total: int, concurrency: int, expect: bytes
) -> tuple[float, list[float]]:
    """One run on fresh connections (closed afterwards); see ``Client.run``."""
    client = Client(port, min(concurrency, max(total, 1)))
    try:
        return client.run(request, total, expect)
    finally:
        client.close()


def _send(connection: _Connection, request: bytes) -> None:
    connection.sent_at = time.perf_counter_ns()
    view = memoryview(request)
    while view:
        try:
            sent = connection.sock.send(view)
        except BlockingIOError:  # the send buffer is full (never, for small requests)
            select.select([], [connection.sock], [], 1.0)
            continue
        view = view[sent:]


def _content_length(buffer: bytearray, head_end: int) -> int:
    head = bytes(buffer[:head_end]).lower()
    at = head.find(_LENGTH)
    if at < 0:
        raise LoadError(f"response without Content-Length: {head[:300]!r}")
    start = at + len(_LENGTH)
    stop = head.find(b"\r\n", start)
    return int(head[start : stop if stop >= 0 else len(head)])


def _check(buffer: bytearray, head_end: int, end: int, expect: bytes) -> None:
    status = bytes(buffer[9:12])
    body = bytes(buffer[head_end + 4 : end])
    if status != b"200":
        raise LoadError(f"HTTP {status.decode()}: {body[:300]!r}")
    if expect not in body:
        raise LoadError(f"unexpected response: {body[:300]!r}")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux ``/proc``), or None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
