"""Benchmark: watch fan-out over GraphQL-SSE vs plain SSE on the same server (issue 10).

One API server process (``_watch_server.py``: the real app, its watch cache fed by an in-memory
``ResourceFeed``) serves ``--watchers`` concurrent event streams. Each round opens them all,
waits until the server counts every watch, then commits ``--events`` changes as fast as the
server's loop allows (``POST /bench/write``; each object carries its commit time) and waits
until every stream has received every change. Two kinds of round alternate, so load from the
rest of the machine hits both alike:

* ``graphql``: ``subscription { watchResources(repository, resourceVersion) { type
  resourceVersion object } }`` over the graphql-sse protocol (distinct connections mode:
  ``POST /graphql``, ``Accept: text/event-stream``);
* ``floor``: the same events from the same watch cache as plain SSE without GraphQL
  (``GET /bench/plain``), each event encoded once for all connections.

Figures per kind: events/s delivered (changes x watchers / time from the first commit to the
last delivery) and commit-to-delivery latency (p50/p99, client clock = server clock: same
machine). The clients are asyncio sockets in this process (one core of the two), which
parse only what they need (chunked framing, the ``"t":`` commit time of each event).

Server CPU per delivered event (``server_cpu_us_per_event``, Linux ``/proc``: the server
process's CPU over a round / deliveries) is reported too: on the shared 2-core box the client
process can be what limits the rate of both kinds, and then the CPU ratio
(``cpu_ratio_vs_floor`` = floor CPU / GraphQL CPU per event) says more about the server.

Target: GraphQL-SSE delivers >= 0.5 of the floor's rate. Last line of stdout: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _httpload import process_cpu_seconds
from _util import free_port, summarize

TARGET = 0.5
ROOT = Path(__file__).resolve().parent.parent
REPO = "bench/catalog"
QUERY = (
    "subscription W($repo: String!, $rv: String) {"
    " watchResources(repository: $repo, resourceVersion: $rv) { type resourceVersion object } }"
)


def _request(port: int, kind: str, version: int) -> bytes:
    if kind == "floor":
        return (
            f"GET /bench/plain?rv={version} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
    body = json.dumps({"query": QUERY, "variables": {"repo": REPO, "rv": str(version)}}).encode()
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Accept: text/event-stream\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Watcher:
    def __init__(self) -> None:
        self.received = 0
        self.latencies: list[float] = []
        self.last = 0.0

    async def run(self, port: int, request: bytes, expect: int, opened: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"stream refused: {head[:200]!r}")
            chunked = b"transfer-encoding: chunked" in head.lower()
            opened.set()
            raw, body = b"", b""
            latencies = self.latencies
            while self.received < expect:
                data = await reader.read(1 << 20)
                if not data:
                    raise RuntimeError("stream ended early")
                now = time.time()
                if chunked:
                    raw += data
                    while True:
                        line_end = raw.find(b"\r\n")
                        if line_end < 0:
                            break
                        size = int(raw[:line_end], 16)
                        if len(raw) < line_end + 2 + size + 2:
                            break
                        body += raw[line_end + 2 : line_end + 2 + size]
                        raw = raw[line_end + 2 + size + 2 :]
                else:
                    body += data
                cut = body.rfind(b"\n\n")
                if cut < 0:
                    continue
                complete, body = body[: cut + 2], body[cut + 2 :]
                start = complete.find(b'"t":')
                while start >= 0:
                    end = start + 4
                    while complete[end] not in b",}":
                        end += 1
                    latencies.append(now - float(complete[start + 4 : end]))
                    self.received += 1
                    start = complete.find(b'"t":', end)
                self.last = now
        finally:
            writer.close()


async def _http(port: int, method: str, path: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{method} {path}: {head[:200]!r}")
    result: dict[str, Any] = json.loads(body)
    return result


async def _round(
    port: int, pid: int, kind: str, watchers: int, events: int, version: int
) -> dict[str, Any]:
    request = _request(port, kind, version)
    clients = [Watcher() for _ in range(watchers)]
    opened = [asyncio.Event() for _ in clients]
    tasks = []
    for index, (client, event) in enumerate(zip(clients, opened, strict=True)):
        tasks.append(asyncio.create_task(client.run(port, request, events, event)))
        if index % 100 == 99:
            await asyncio.sleep(0.01)
    deadline = time.monotonic() + 120
    while (await _http(port, "GET", "/bench/stats"))["watchers"] < watchers:
        if time.monotonic() > deadline:
            raise RuntimeError("the watchers did not all connect")
        for task in tasks:
            if task.done() and task.exception():
                raise task.exception()  # type: ignore[misc]
        await asyncio.sleep(0.1)
    cpu_before = process_cpu_seconds(pid)
    started = time.time()
    written = await _http(port, "POST", f"/bench/write?n={events}")
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    finished = max(c.last for c in clients)
    cpu_after = process_cpu_seconds(pid)
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    latencies_ms = [lat * 1000 for c in clients for lat in c.latencies]
    while (await _http(port, "GET", "/bench/stats"))["watchers"]:
        await asyncio.sleep(0.05)
    delivered = sum(c.received for c in clients)
    return {
        "delivered": delivered,
        "seconds": finished - started,
        "latencies_ms": latencies_ms,
        "version": written["version"],
        "server_cpu_s": cpu,
    }


async def bench(port: int, pid: int, watchers: int, events: int, rounds: int) -> dict[str, Any]:
    setup = await _http(port, "POST", "/bench/setup")
    version = int(setup["version"])
    totals: dict[str, dict[str, Any]] = {
        kind: {"delivered": 0, "seconds": 0.0, "latencies": [], "rates": [], "cpu": 0.0}
        for kind in ("graphql", "floor")
    }
    warm_up = await _round(port, pid, "graphql", min(watchers, 50), 20, version)
    version = warm_up["version"]
    for number in range(rounds):
        for kind in ("graphql", "floor") if number % 2 == 0 else ("floor", "graphql"):
            result = await _round(port, pid, kind, watchers, events, version)
            version = result["version"]
            total = totals[kind]
            total["delivered"] += result["delivered"]
            total["seconds"] += result["seconds"]
            total["latencies"] += result["latencies_ms"]
            total["cpu"] += result["server_cpu_s"] or 0.0
            total["rates"].append(round(result["delivered"] / result["seconds"]))
            rate = result["delivered"] / result["seconds"]
            print(
                f"round {number + 1} {kind}: {rate:.0f} events/s",
                file=sys.stderr,
                flush=True,
            )
    figures: dict[str, Any] = {}
    for kind, total in totals.items():
        latency = summarize(total["latencies"])
        figures[kind] = {
            "events_per_s": round(total["delivered"] / total["seconds"]),
            "p50_ms": latency["p50_ms"],
            "p99_ms": latency["p99_ms"],
            "round_rates": total["rates"],
            "server_cpu_us_per_event": round(total["cpu"] * 1e6 / total["delivered"], 2),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 watchers, 50 events, 2 rounds")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    if args.quick:
        args.watchers, args.events, args.rounds = 200, 50, 2
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as scratch:
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        }
        server = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "_watch_server.py"), str(port), scratch],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None
            if server.stdout.readline().strip() != "ready":
                raise RuntimeError("the bench server did not start")
            figures = asyncio.run(bench(port, server.pid, args.watchers, args.events, args.rounds))
        finally:
            server.terminate()
            server.wait(30)
            if server.stdout is not None:
                server.stdout.close()
    ratio = figures["graphql"]["events_per_s"] / figures["floor"]["events_per_s"]
    graphql_cpu = figures["graphql"]["server_cpu_us_per_event"]
    cpu_ratio = figures["floor"]["server_cpu_us_per_event"] / graphql_cpu if graphql_cpu else 0
    result = {
        "benchmark": "watch",
        "watchers": args.watchers,
        "events": args.events,
        "rounds": args.rounds,
        "graphql_sse": figures["graphql"],
        "plain_sse_floor": figures["floor"],
        "ratio_vs_floor": round(ratio, 3),
        "cpu_ratio_vs_floor": round(cpu_ratio, 3),
        "target": TARGET,
        "target_met": ratio >= TARGET,
        "python": platform.python_version(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
