"""A cheap HTTP load generator: a few worker processes, each with keep-alive connections.

The server under test is one Python process; a load generator in the benchmark's own
process would share a GIL with the benchmark's bookkeeping and cap the request rate at what
one interpreter can send. Instead ``LoadGenerator`` spawns ``processes`` workers once (the
``spawn`` start method: nothing of the parent — gRPC channels, event loops — is inherited)
and reuses them for every phase. Each worker runs ``connections`` raw HTTP/1.1 keep-alive
connections on an asyncio loop (uvloop when installed): pre-built request bytes, framed by
``Content-Length``, sent back to back until the phase's deadline. It costs tens of
microseconds of CPU per request, a fraction of what the server spends.

A phase is time-boxed: every connection sends requests until ``seconds`` have passed,
cycling through the given requests (one per product, say) from its own offset. The result
is the number of requests answered, the wall time (first start to last end, taken with the
system-wide monotonic clock so processes agree) and every request's latency as the client
saw it. Every response must be HTTP 200 and must contain ``expect[i]`` for request ``i`` —
checked on each connection's first response for every request it sends before wrapping
around, so a wrong or empty answer fails the run rather than inflating it.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any


@dataclass
class PhaseResult:
    requests: int = 0
    seconds: float = 0.0
    samples_ms: list[float] = field(default_factory=list)

    def add(self, other: PhaseResult) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.samples_ms += other.samples_ms

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _phase(
    port: int,
    requests: list[bytes],
    expect: list[bytes],
    connections: int,
    seconds: float,
    offset: int,
) -> tuple[int, int, list[float]]:
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    samples: list[float] = []
    count = len(requests)
    started = time.monotonic_ns()
    deadline = started + int(seconds * 1e9)

    async def run(number: int) -> None:
        reader, writer = streams[number]
        position = (offset + number * 7919) % count
        sent = 0
        while time.monotonic_ns() < deadline:
            index = (position + sent) % count
            begin = time.perf_counter_ns()
            writer.write(requests[index])
            status, body = await _read_response(reader)
            samples.append((time.perf_counter_ns() - begin) / 1e6)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
            if sent < count and expect[index] not in body:
                raise RuntimeError(f"response lacks {expect[index]!r}: {body[:300]!r}")
            sent += 1

    await asyncio.gather(*(run(n) for n in range(connections)))
    ended = time.monotonic_ns()
    for _reader, writer in streams:
        writer.close()
    return started, ended, samples


def _worker(pipe: Connection, number: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    while True:
        command = pipe.recv()
        if command is None:
            return
        port, requests, expect, connections, seconds = command
        try:
            result: Any = asyncio.run(
                _phase(port, requests, expect, connections, seconds, number * 104729)
            )
        except Exception as exc:  # reported to the parent
            result = f"{type(exc).__name__}: {exc}"
        pipe.send(result)


class LoadGenerator:
    def __init__(self, processes: int, connections: int) -> None:
        self.connections = connections
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for number in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker, args=(child, number), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def run(
        self, port: int, requests: list[bytes], expect: list[bytes], seconds: float
    ) -> PhaseResult:
        for pipe in self.pipes:
            pipe.send((port, requests, expect, self.connections, seconds))
        answers = [pipe.recv() for pipe in self.pipes]
        failures = [answer for answer in answers if isinstance(answer, str)]
        if failures:
            raise RuntimeError(f"load generator: {failures[0]}")
        started = min(answer[0] for answer in answers)
        ended = max(answer[1] for answer in answers)
        samples = [sample for answer in answers for sample in answer[2]]
        return PhaseResult(len(samples), (ended - started) / 1e9, samples)

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def request_bytes(port: int, method: str, path: str, body: bytes | None = None) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Accept: application/graphql-response+json, application/json",
    ]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
