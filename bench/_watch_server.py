"""The API server of ``bench_watch.py``: the real app (watch cache, GraphQL-SSE on ``/graphql``)
fed by an in-memory ``ResourceFeed``, plus three bench-only routes on the same server:

* ``POST /bench/setup`` — make the namespace and the PUBLIC repository ``bench/catalog``;
* ``POST /bench/write?n=N`` — commit N changes to the feed as fast as the loop allows (each
  object's ``spec.t`` is its commit time, ``time.time()``), poking the watch cache after each,
  as the resource store's queue poke would; answers when all are committed;
* ``GET /bench/plain?rv=V`` — the floor: the same watch cache events as plain SSE without
  GraphQL or the graphql-sse protocol (``data: {type,resourceVersion,object}``), each event
  encoded once and the bytes shared by every connection;
* ``GET /bench/stats`` — ``{"watchers": n}`` (connected watches).

Usage: ``python bench/_watch_server.py <port> <data_dir>``; prints ``ready`` when serving.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gitstore.api.app import create_app
from gitstore.api.services import ApiServices
from gitstore.api.sse.stream import EventStream
from gitstore.api.watch.memory import MemoryResourceFeed
from gitstore.backends.metadata.base import PublishMode, Tier, Visibility
from gitstore.config import load_settings

REPO = "bench/catalog"


class _Asgi:
    """A plain ASGI app for a Route (Starlette wraps bare functions as request endpoints)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def build(data_dir: Path) -> tuple[object, ApiServices, MemoryResourceFeed]:
    settings = load_settings(
        data_dir=str(data_dir),
        **{
            "db.url": "memory://",
            "queue.url": "memory://",
            "api.jwt_secret": "b" * 64,
            "watch.max_streams": 100_000,
        },
    )
    feed = MemoryResourceFeed(retain=1_000_000)
    app = create_app(settings, resource_feed=feed)
    services: ApiServices = app.state.services
    shared: dict[int, bytes] = {}

    async def setup(_request: Request) -> Response:
        store = services.store
        ns = await store.create_namespace(
            "bench", Tier.USER, display_name="", parent_enterprise_id=None, created_by="bench"
        )
        await store.create_repository(
            ns.id,
            "catalog",
            description="",
            publish_mode=PublishMode.ON_COMMIT,
            default_branch="main",
            visibility=Visibility.PUBLIC,
            created_by="bench",
        )
        return JSONResponse({"repository": REPO, "version": await feed.current_version(REPO)})

    async def write(request: Request) -> Response:
        count = int(request.query_params["n"])
        cache = services.watch_cache()
        for i in range(count):
            change = feed.put(REPO, "Product", f"p{i % 100}", {"t": time.time(), "i": i})
            cache.poke(REPO, change.resource_version)
            if i % 10 == 9:
                await asyncio.sleep(0)
        return JSONResponse({"version": await feed.current_version(REPO)})

    async def stats(_request: Request) -> Response:
        return JSONResponse({"watchers": services.watch_cache().watcher_count})

    async def plain_asgi(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        request = Request(scope, receive)  # type: ignore[arg-type]
        version = int(request.query_params["rv"])
        stream = EventStream(services.settings.watch.keepalive_seconds, services.closing)

        async def pump() -> None:
            async for event in services.watch_cache().watch(REPO, resource_version=version):
                encoded = shared.get(event.resource_version) if event.key else None
                if encoded is None:
                    body = {
                        "type": event.type,
                        "resourceVersion": str(event.resource_version),
                        "object": event.object,
                    }
                    encoded = b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"
                    if event.key:
                        shared[event.resource_version] = encoded
                await stream.put(encoded)

        stream.spawn(pump())
        await stream.run(receive, send)  # type: ignore[arg-type]

    app.router.routes[0:0] = [
        Route("/bench/setup", setup, methods=["POST"]),
        Route("/bench/write", write, methods=["POST"]),
        Route("/bench/stats", stats, methods=["GET"]),
        Route("/bench/plain", _Asgi(plain_asgi), methods=["GET"]),
    ]
    return app, services, feed


def main() -> None:
    port, data_dir = int(sys.argv[1]), Path(sys.argv[2])
    app, _services, _feed = build(data_dir)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="none",
        backlog=4096,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
