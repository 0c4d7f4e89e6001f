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
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from gitstore.backends.kv import KvStore, open_kv_store
from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.config import Settings
from gitstore.domain.errors import Unavailable
from gitstore.git.client import GitClient

from .graphql.apq import PersistedQueries
from .graphql.builder import SchemaModule, build_schema
from .graphql.documents import DocumentCache
from .graphql.holder import PublishResult, SchemaHolder, SchemaSnapshot
from .graphql.modules import default_modules
from .identity.actions import IdentityActions
from .identity.auth import Authenticator
from .identity.jwt_tokens import JwtCodec
from .identity.passwords import Passwords
from .identity.signing_key import load_signing_key
from .metrics import ApiMetrics

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
    ) -> None:
        self.settings = settings
        api = settings.api
        self.metrics = ApiMetrics()
        self.holder = SchemaHolder(on_swap=self._on_swap)
        self.documents = DocumentCache(
            enabled=api.document_cache,
            capacity=api.document_cache_size,
            max_depth=api.max_depth,
            max_cost=api.max_cost,
            max_page_size=api.max_page_size,
            max_tokens=api.max_query_tokens,
            on_lookup=self.metrics.document_lookup,
        )
        self.apq = PersistedQueries(api.apq_cache_size)
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
        self._identity = IdentityActions(self._store, Passwords(), jwt)
        self._authenticator = Authenticator(self._store, jwt)
        if self._git is None:
            self._git = self._git_factory(self.settings)
            self._owns_git = True
        if self._kv is None:
            self._kv = await open_kv_store(self.settings.kv_url())
        result = self.rebuild_schema()
        if not result.ok:
            raise RuntimeError("the GraphQL schema is invalid: " + "; ".join(result.errors))
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
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

    def kv(self) -> KvStore:
        """The KV projection store (storefront reads)."""
        if self._kv is None:
            raise Unavailable("the KV store is not open")
        return self._kv

    def git(self) -> GitClient:
        """The git service client."""
        if self._git is None:
            raise Unavailable("the git service client is not open")
        return self._git


async def _close(client: GitClient) -> None:
    result = client.close()
    if inspect.isawaitable(result):  # test doubles may close synchronously
        await result
