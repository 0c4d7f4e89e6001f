"""Everything one API app owns, started and stopped by the app's lifespan.

``start()`` opens the metadata store (the one passed in, or ``open_metadata_store`` of
``Settings.db_url()``) and migrates it, loads the JWT signing key, wires the identity
services, and publishes the first schema from the schema modules; only then is the app ready
(``/healthz`` 200). ``stop()`` closes what ``start()`` opened (a store or git client passed
in by the caller stays open: the caller owns it).

The API never holds git state: it reaches the git service only through the gRPC
:class:`GitClient` (``settings.git.grpc.uri``), made at start by ``git_client_factory``
(default ``GitClient.from_settings``) unless one is passed in. Making it does not connect,
so the API starts (and serves identity) while the git service is down; calls then fail with
``Unavailable``. Modules get it with :meth:`ApiServices.git`.

The KV projection store (what storefront reads are served from) is the one passed in
(``kv_store=``, kept open) or ``open_kv_store(Settings.kv_url())``, opened at start and closed
at stop. Modules get it with :meth:`ApiServices.kv`.

Releases (issue 5): the event queue (``events_queue=``, kept open, or ``open_queue`` of
``Settings.queue_url()`` on ``settings.queue.stream``) is the producer of ``PublishEvent``s
(:meth:`ApiServices.events`); the stream ``published_stream(settings.queue.stream)``
(``published_queue=``, or opened likewise) feeds the background loops of
``webhooks.background`` (publication results, webhook dispatcher), which run between start
and stop unless ``release_background=False``.

Resource store (issue 10): the one passed in (``resource_store=``, kept open) or
``open_resource_store(Settings.resources_url())``, migrated at start (:meth:`resources`), and
a queue on ``settings.resources.stream`` (``resources_queue=``, kept open, or opened) to
announce status writes (:meth:`resource_announcements`).

Hook service (issue 5): with ``hook_server=True`` (``gitstore api`` / ``serve``), ``start()``
ends by starting the ``HookService`` gRPC server (``hooks.server.HookServer``) on
``settings.hook.grpc.host:port`` — ``hook_port`` is the bound port (0 = a free one) — and
``stop()`` stops it first. Off by default, so test apps do not race for port 50052.

Watches (issue 10): start() makes the :class:`WatchCache` over ``resource_feed`` (a test
double) or else the resource store, and feeds it from the ``GITSTORE_RESOURCES__STREAM`` queue
stream (``watch.pokes``), where the store's writers announce every change. Open SSE streams
watch ``closing``: ``end_streams()`` (called by ``gitstore api`` before uvicorn stops, and by
``stop()``) ends them all, so shutdown never waits on a stream.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.backends.queue.base import Queue, Retention
from gitstore.backends.queue.factory import open_queue
from gitstore.backends.resources import (
    Announcer,
    ResourceStore,
    open_resource_store,
    poke_retention,
)
from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.backends.wasm.runner import WasmHookRunner
from gitstore.config import Settings
from gitstore.domain.conversion.contract import ConversionRequest
from gitstore.domain.conversion.downbatch import DownConversions
from gitstore.domain.errors import Unavailable
from gitstore.domain.events import published_stream
from gitstore.domain.resources.watch import ResourceFeed
from gitstore.git.client import GitClient
from gitstore.git.kinds import KindsLoader, file_at

from .changes.cleanup import ChangeSweeper
from .graphql.builder import SchemaModule, build_schema
from .graphql.execution.apq import PersistedQueries
from .graphql.execution.documents import DocumentCache
from .graphql.holder import PublishResult, SchemaHolder, SchemaSnapshot
from .graphql.modules import default_modules
from .hooks.server import HookServer
from .identity.actions import IdentityActions
from .identity.auth import Authenticator
from .identity.jwt_tokens import JwtCodec
from .identity.limits import api_guard
from .identity.passwords import Passwords
from .identity.signing_key import load_signing_key
from .metrics import ApiMetrics
from .resources.access import StatusRights
from .storeschema.schemas import StoreSchemas
from .watch.cache import WatchCache
from .watch.pokes import PokeConsumer
from .webhooks.background import ReleaseBackground

log = logging.getLogger("gitstore.api")


class ApiServices:
    def __init__(
        self,
        settings: Settings,
        *,
        metadata_store: MetadataStore | None = None,
        git_client: GitClient | None = None,
        git_client_factory: Callable[[Settings], GitClient] | None = None,
        modules: Sequence[SchemaModule] | None = None,
        kv_store: KvStore | None = None,
        events_queue: Queue | None = None,
        published_queue: Queue | None = None,
        release_background: bool = True,
        hook_server: bool = False,
        resource_store: ResourceStore | None = None,
        resources_queue: Queue | None = None,
        resource_feed: ResourceFeed | None = None,
        resource_queue: Queue | None = None,
    ) -> None:
        self.settings = settings
        api = settings.api
        self.metrics = ApiMetrics()
        self.holder = SchemaHolder(on_swap=self._on_swap)
        self.documents = DocumentCache.from_settings(api, self.metrics.document_lookup)
        self.apq = PersistedQueries(api.apq_cache_size)
        # the schemas of the store endpoints /<namespace>/<repo>/graphql (api.storeschema)
        self.store_schemas = StoreSchemas(self)
        self.modules: list[SchemaModule] = (
            list(modules) if modules is not None else default_modules()
        )
        self.ready = False
        self._store = metadata_store
        self._owns_store = metadata_store is None
        self._git = git_client
        self._git_factory = git_client_factory or GitClient.from_settings
        self._owns_git = False
        self._identity: IdentityActions | None = None
        self._kv = kv_store
        self._owns_kv = kv_store is None
        self._authenticator: Authenticator | None = None
        # Sign-in limits of this process (in memory: per replica); tests may set its clocks.
        self.guard = api_guard(settings.auth)
        self._serve_hooks = hook_server
        self._hooks: HookServer | None = None
        self._events = events_queue
        self._owns_events = events_queue is None
        self._published = published_queue
        self._owns_published = published_queue is None
        self._release_background = release_background
        self._background: ReleaseBackground | None = None
        self._kinds: KindsLoader | None = None
        self._resources = resource_store
        self._owns_resources = resource_store is None
        self._announce = resources_queue
        self._owns_announce = resources_queue is None
        self._announcer = Announcer(None)
        self.status_rights = StatusRights(settings.resources.rights_cache_seconds)
        self._hook_runner: WasmHookRunner | None = None
        self._hook_pool: AsyncHookRunner | None = None
        self._down: DownConversions | None = None
        self._feed = resource_feed
        self._resource_queue = resource_queue
        self._owns_resource_queue = resource_queue is None
        self._watch: WatchCache | None = None
        self._pokes: PokeConsumer | None = None
        self.closing = asyncio.Event()  # set: open SSE streams end
        self._sweeper: ChangeSweeper | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._store is None:
            self._store = open_metadata_store(self.settings.db_url())
        version = await self._store.migrate()
        log.info("metadata store ready (schema version %d)", version)
        api = self.settings.api
        secret = api.jwt_secret.get_secret_value() if api.jwt_secret else None
        key = load_signing_key(secret, self.settings.data_dir, api.jwt_algorithm)
        jwt = JwtCodec(
            key, algorithm=api.jwt_algorithm, ttl=timedelta(seconds=api.token_ttl_seconds)
        )
        self._identity = IdentityActions(self._store, Passwords(), jwt, self.guard)
        self._authenticator = Authenticator(self._store, jwt, self.guard)
        if self._git is None:
            self._git = self._git_factory(self.settings)
            self._owns_git = True
        if self._kv is None:
            self._kv = await open_kv_store(self.settings.kv_url())
        await self._start_releases()
        await self._start_resources()
        await self._start_watch()
        result = self.rebuild_schema()
        if not result.ok:
            raise RuntimeError("the GraphQL schema is invalid: " + "; ".join(result.errors))
        if self._serve_hooks and self._hooks is None:
            hook_grpc = self.settings.hook.grpc
            hooks = HookServer(self, hook_grpc.host, hook_grpc.port)
            await hooks.start()
            self._hooks = hooks
        self._sweeper = ChangeSweeper(self, self.settings.changes.sweep_seconds)
        self._sweeper.start()
        self.ready = True

    async def _start_releases(self) -> None:
        queue = self.settings.queue
        if self._events is None:
            self._events = await open_queue(
                self.settings.queue_url(), stream=queue.stream, ack_wait=queue.ack_wait
            )
        if self._published is None and self._release_background:
            self._published = await open_queue(
                self.settings.queue_url(),
                stream=published_stream(queue.stream),
                ack_wait=queue.ack_wait,
            )
        if self._published is not None and self._release_background:
            self._background = ReleaseBackground(self.store, self._published, self.settings.webhook)
            self._background.start()

    async def _start_resources(self) -> None:
        s = self.settings
        if self._resources is None:
            self._resources = open_resource_store(s.resources_url(), retain=s.resources.retain)
        await self._resources.migrate()
        if self._announce is None:
            self._announce = await open_queue(
                s.queue_url(),
                stream=s.resources.stream,
                ack_wait=s.queue.ack_wait,
                retention=self._poke_retention(),
            )
        self._announcer = Announcer(self._announce)
        self._announcer.start()

    def _poke_retention(self) -> Retention:
        r = self.settings.resources
        return poke_retention(r.stream_max_messages, r.stream_max_age, r.stream_group_idle_expiry)

    async def _stop_resources(self) -> None:
        await self._announcer.close()
        if self._owns_announce and self._announce is not None:
            await self._announce.close()
            self._announce = None
        if self._owns_resources and self._resources is not None:
            await self._resources.close()
            self._resources = None

    async def _stop_releases(self) -> None:
        if self._background is not None:
            await self._background.stop()
            self._background = None
        if self._owns_published and self._published is not None:
            await self._published.close()
            self._published = None
        if self._owns_events and self._events is not None:
            await self._events.close()
            self._events = None

    async def _start_watch(self) -> None:
        if self._watch is None:
            self.closing = asyncio.Event()  # a fresh start after a stop
        feed = self._feed if self._feed is not None else self._resources
        if feed is None or self._watch is not None:
            return
        watch = self.settings.watch
        self._watch = WatchCache(
            feed,
            window=watch.window,
            watcher_buffer=watch.watcher_buffer,
            bookmark_seconds=watch.bookmark_seconds,
            on_cutoff=lambda reason: self.metrics.watch_cutoffs.labels(reason).inc(),
        )
        cache = self._watch
        self.metrics.watchers.set_function(lambda: cache.watcher_count)
        self._watch.start()
        if self._resource_queue is None:
            self._resource_queue = await open_queue(
                self.settings.queue_url(),
                stream=self.settings.resources.stream,
                ack_wait=self.settings.queue.ack_wait,
                retention=self._poke_retention(),
            )
        self._pokes = PokeConsumer(
            self._resource_queue, self._watch, watch.group, self.metrics.watch_pokes.inc
        )
        self._pokes.start()

    async def end_streams(self) -> None:
        """End every watch and SSE stream (before the HTTP server waits for connections)."""
        self.closing.set()
        if self._watch is not None:
            await self._watch.close()

    async def _stop_watch(self) -> None:
        await self.end_streams()
        if self._pokes is not None:
            await self._pokes.stop()
            self._pokes = None
        self._watch = None
        if self._owns_resource_queue and self._resource_queue is not None:
            await self._resource_queue.close()
            self._resource_queue = None

    async def stop(self) -> None:
        self.ready = False
        if self._sweeper is not None:
            await self._sweeper.stop()
            self._sweeper = None
        await self._stop_watch()
        if self._hooks is not None:
            await self._hooks.stop()
            self._hooks = None
        await self._stop_releases()
        await self._stop_resources()
        await self.store_schemas.close()
        self._down = None  # its futures belong to this event loop
        if self._hook_pool is not None:
            await asyncio.to_thread(self._hook_pool.close)
            self._hook_pool = None
        if self._hook_runner is not None:
            self._hook_runner.close()
            self._hook_runner = None
        self._kinds = None
        if self._owns_kv and self._kv is not None:
            await self._kv.close()
            self._kv = None
        if self._owns_git and self._git is not None:
            await _close(self._git)
            self._git = None
        if self._owns_store and self._store is not None:
            await self._store.close()
            self._store = None

    # ------------------------------------------------------------------ schema
    def rebuild_schema(self) -> PublishResult:
        """Build a schema from the modules and publish it (the old one stays if it fails)."""
        result = self.holder.publish_from(
            lambda: build_schema(self.modules, max_page_size=self.settings.api.max_page_size)
        )
        if not result.ok:
            self.metrics.schema_failures.inc()
        return result

    def _on_swap(self, snapshot: SchemaSnapshot) -> None:
        self.documents.clear()
        self.metrics.schema_version.set(snapshot.version)

    # ------------------------------------------------------------------ accessors
    @property
    def store(self) -> MetadataStore:
        if self._store is None:
            raise Unavailable("the metadata store is not open")
        return self._store

    @property
    def identity(self) -> IdentityActions:
        if self._identity is None:
            raise Unavailable("the API is not started")
        return self._identity

    @property
    def authenticator(self) -> Authenticator:
        if self._authenticator is None:
            raise Unavailable("the API is not started")
        return self._authenticator

    def watch_cache(self) -> WatchCache:
        """The watch cache (watch subscriptions)."""
        if self._watch is None:
            raise Unavailable(
                "watches are not available: this API process has no resource store"
                if self._feed is None and self._resources is None
                else "watches are not available: the API is not started"
            )
        return self._watch

    def kv(self) -> KvStore:
        """The KV projection store (storefront reads)."""
        if self._kv is None:
            raise Unavailable("the KV store is not open")
        return self._kv

    def resources(self) -> ResourceStore:
        """The resource store (spec, status, resourceVersion; docs/resources.md)."""
        if self._resources is None:
            raise Unavailable("the resource store is not open")
        return self._resources

    def resource_announcements(self) -> Queue | None:
        """The queue bound to the ``resources`` stream (``ResourceChangedEvent`` pokes)."""
        return self._announce

    def announcer(self) -> Announcer:
        """Publishes pokes in the background, coalesced per repository (never blocks)."""
        return self._announcer

    def events(self) -> Queue:
        """The producer side of the main event stream (``PublishEvent``s)."""
        if self._events is None:
            raise Unavailable("the event queue is not open")
        return self._events

    @property
    def hook_port(self) -> int | None:
        """The bound port of the hook service (None unless started with ``hook_server``)."""
        return self._hooks.port if self._hooks is not None else None

    def wake_deliveries(self) -> None:
        """Tell the webhook dispatcher that deliveries were queued (no-op without one)."""
        if self._background is not None:
            self._background.dispatcher.wake()

    def git(self) -> GitClient:
        """The git service client."""
        if self._git is None:
            raise Unavailable("the git service client is not open")
        return self._git

    def kinds(self) -> KindsLoader:
        """Kind registries of commits (``gitstore.git.kinds``), cached by ``kinds/`` tree."""
        if self._kinds is None or self._kinds.git is not self.git():
            self._kinds = KindsLoader(
                self.git(), max_bytes=self.settings.content.max_manifest_bytes
            )
        return self._kinds

    def hook_runner(self) -> WasmHookRunner:
        """The conversion hook runner (made on first use: checks of Wasm definitions)."""
        if self._hook_runner is None:
            self._hook_runner = WasmHookRunner(self.settings.conversion.hook_limits())
        return self._hook_runner

    def hook_pool(self) -> AsyncHookRunner:
        """The runner's asyncio pool: conversions of written documents to the hub (made on
        first use; bounded, never on the event loop)."""
        if self._hook_pool is None:
            c = self.settings.conversion
            self._hook_pool = AsyncHookRunner(
                self.hook_runner(), max_workers=c.workers, max_pending=c.max_pending
            )
        return self._hook_pool

    def down_conversions(self) -> DownConversions:
        """Hub documents converted to older served versions for reads (``storeschema.versions``):
        the process-wide cache and the conversions in flight, on the hook pool."""
        if self._down is None:

            async def convert(request: ConversionRequest, module: bytes) -> list[dict[str, Any]]:
                return await self.hook_pool().convert(request, module)

            async def read(repository: str, commit: str, path: str) -> bytes | None:
                return await file_at(self.git(), repository, commit, path)

            self._down = DownConversions(convert, read)
        return self._down


async def _close(client: GitClient) -> None:
    result = client.close()
    if inspect.isawaitable(result):  # test doubles may close synchronously
        await result
