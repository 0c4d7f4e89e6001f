"""Settings: environment variables with the ``GITSTORE_`` prefix and ``__`` for nesting.

``GITSTORE_GIT__GRPC__URI`` is ``settings.git.grpc.uri``; ``GITSTORE_GRPC__PORT`` is
``settings.grpc.port``. CLI flags of the same name (``--git-data-dir``, ``--grpc-port``, ...)
override the environment; the CLI turns them into keyword overrides of :func:`load_settings`.

Defaults describe the embedded single-machine deployment (``gitstore serve``): everything
lives in ``./data``, the queue is a SQLite file there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gitstore.domain.conversion.contract import HookLimits

DEFAULT_DATA_DIR = Path("data")


class GrpcServerSettings(BaseModel):
    """The git service's gRPC listener (``GITSTORE_GRPC__*``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    # Streams of pushes hold a thread while their pre-receive check reads through others.
    max_workers: int = Field(default=64, ge=1)


class GitGrpcClientSettings(BaseModel):
    """How clients (api, worker) reach the git service (``GITSTORE_GIT__GRPC__*``)."""

    uri: str = "127.0.0.1:50051"
    timeout_seconds: float = 30.0


class HousekeepingSettings(BaseModel):
    """Repository housekeeping (``GITSTORE_GIT__HOUSEKEEPING__*``, docs/git-service.md)."""

    # Schedule an optimisation check after writes (off: only the RPC and the CLI run it).
    enabled: bool = True
    # Wait this long after a repository's last write before checking it (writes in between
    # push the check back, up to ``max_delay_seconds`` after the first one).
    debounce_seconds: float = Field(default=5.0, ge=0)
    max_delay_seconds: float = Field(default=60.0, ge=0)
    # Repositories optimised at once by the background scheduler (one at a time each).
    concurrency: int = Field(default=1, ge=1, le=64)
    # Geometric repack (``git repack -d --geometric=2``) when this many loose objects ...
    loose_objects_limit: int = Field(default=1024, ge=1)
    # ... or more packs than this (a full repack when twice as many).
    max_packs: int = Field(default=16, ge=2)
    # A full repack (everything reachable into one pack, the rest into a cruft pack) at most
    # this often, and only when there is more than one pack.
    full_repack_interval_seconds: float = Field(default=86_400.0, ge=0)
    # Objects unreachable for less than this are never deleted (git's --expire / gc.pruneExpire).
    prune_grace_seconds: float = Field(default=14 * 86_400.0, ge=0)
    # Prune (a full repack that drops expired unreachable objects) at most this often.
    prune_interval_seconds: float = Field(default=7 * 86_400.0, ge=0)
    # Longest delta chain a repack leaves (``git repack --depth``; git's default is 50). Every
    # blob read walks its chain, so reads of deep chains cost several times more (a first
    # projection reads every blob): 10 keeps packs about as small and reads ~5x faster.
    pack_depth: int = Field(default=10, ge=1, le=4095)
    # A repository holding this many packed objects that housekeeping never fully repacked
    # (a big first push or import, packed as the client chose) gets a full repack at once.
    big_pack_objects: int = Field(default=10_000, ge=1)
    # A ``git`` housekeeping command running longer than this is killed (the run fails).
    command_timeout_seconds: float = Field(default=3600.0, gt=0)


class GitSettings(BaseModel):
    """Repository storage (``GITSTORE_GIT__*``)."""

    # Where bare repositories live; empty = ``<data_dir>/repos``.
    data_dir: Path | None = None
    grpc: GitGrpcClientSettings = GitGrpcClientSettings()
    # Largest single file content accepted by CommitFiles, in bytes.
    max_file_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    # Largest total content of one CommitFiles request, in bytes.
    max_commit_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # How often CommitFiles re-applies its actions after losing a ref race.
    max_commit_retries: int = Field(default=16, ge=0)
    # fsync objects and refs before acknowledging (turn off only for throwaway data).
    fsync: bool = True
    # A ``<ref>.lock`` file older than this is left over from a killed process and removed.
    stale_lock_seconds: float = Field(default=10.0, gt=0)
    # libgit2's object cache: trees up to this size are cached (libgit2's default is 4 KiB,
    # which re-reads a catalogue's large ``products/`` tree on every path lookup) ...
    tree_cache_object_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # ... within this total cache size (libgit2's default is 256 MiB).
    object_cache_bytes: int = Field(default=512 * 1024 * 1024, ge=0)
    housekeeping: HousekeepingSettings = HousekeepingSettings()


class QueueSettings(BaseModel):
    """Event queue (``GITSTORE_QUEUE__*``).

    ``sqlite:///path`` (default: ``<data>/queue.sqlite3``), ``redis://host:port/db`` (Redis
    Streams) or ``nats://host:port`` (JetStream).
    """

    url: str = ""
    stream: str = "gitstore-events"
    # Seconds a fetched, unacked message stays leased before it is redelivered.
    ack_wait: float = Field(default=30.0, gt=0)


class KvSettings(BaseModel):
    """KV projection store (``GITSTORE_KV__*``).

    ``sqlite:///path`` (default: ``<data>/kv.sqlite3``), ``redis://host:port/db`` (also
    ``rediss://``, ``valkey://``; ``?prefix=`` prefixes every key) or ``memory://``.
    """

    url: str = ""


class DbSettings(BaseModel):
    """Metadata store (``GITSTORE_DB__*``).

    ``sqlite:///path`` (default: ``<data>/metadata.sqlite3``), ``postgresql://...`` or
    ``memory://`` (tests only: nothing survives the process).
    """

    url: str = ""


class ResourcesSettings(BaseModel):
    """Resource store (``GITSTORE_RESOURCES__*``; docs/resources.md).

    ``sqlite:///path`` (default: ``<data>/resources.sqlite3``), ``postgresql://...`` or
    ``memory://`` (tests only). ``retain``: the watch window, the last changes kept per
    repository for resuming watches (older resourceVersions answer EXPIRED: relist).
    ``stream``: where every write is announced (``ResourceChangedEvent``);
    ``stream_max_messages`` / ``stream_max_age`` (seconds; 0 = no limit) bound it: pokes are
    hints, worthless once every watch cache read past them (docs/watch.md);
    ``stream_group_idle_expiry`` (seconds; 0 = never) deletes consumer groups nobody read for
    that long (the ``watch-<host>-<pid>`` groups of ended API processes).
    """

    url: str = ""
    retain: int = Field(default=10_000, ge=1)
    stream: str = "resources"
    stream_max_messages: int = Field(default=10_000, ge=0)
    stream_max_age: float = Field(default=3600.0, ge=0)
    stream_group_idle_expiry: float = Field(default=3600.0, ge=0)
    # Seconds a granted status-write right is remembered per caller and repository (0 = off).
    rights_cache_seconds: float = Field(default=1.0, ge=0)


class ControllersSettings(BaseModel):
    """The built-in controllers (``GITSTORE_CONTROLLERS__*``; docs/controllers.md).

    They are API clients: ``api_url`` and a controller ``token`` (scopes READ + STATUS),
    for each repository ``repositories`` selects (comma-separated ``namespace/repo``,
    ``namespace/*`` or ``*``; discovered through the API every ``discover_seconds``).
    ``enabled`` names the built-ins to run; ``revalidate_urls`` (comma-separated) receive
    the revalidation controller's signed ``catalog.changed`` POSTs (``revalidate_secret``).
    ``serve`` runs them against its own API when ``token`` and ``repositories`` are set.
    """

    api_url: str = "http://127.0.0.1:8080"
    token: SecretStr | None = None
    repositories: str = ""
    enabled: str = "readiness,revalidation"
    revalidate_urls: str = ""
    revalidate_secret: SecretStr | None = None
    identity: str = ""
    lease_seconds: float = Field(default=15.0, gt=0, le=3600)
    workers: int = Field(default=4, ge=1, le=256)
    shutdown_seconds: float = Field(default=10.0, ge=0)
    discover_seconds: float = Field(default=30.0, gt=0)
    # AI controllers (``quality``, ``descriptions``): they propose change requests, so their
    # token also needs WRITE; ``model_*`` configure the OpenAI-compatible model (off unless
    # ``model_url`` is set; ``descriptions`` needs it).
    proposals_max_open: int = Field(default=50, ge=1, le=10000)
    model_url: str = ""
    model_key: SecretStr | None = None
    model_name: str = ""
    model_timeout: float = Field(default=30.0, gt=0, le=600)
    model_retries: int = Field(default=2, ge=0, le=10)

    def repository_list(self) -> list[str]:
        return _split(self.repositories)

    def enabled_list(self) -> list[str]:
        return _split(self.enabled)

    def revalidate_url_list(self) -> list[str]:
        return _split(self.revalidate_urls)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class ChangesSettings(BaseModel):
    """Change requests (``GITSTORE_CHANGES__*``; docs/change-requests.md)."""

    # Every API process finishes merges interrupted by a crash and deletes the proposal
    # branches of finished requests left behind, this often in seconds (0 = never; the
    # next read of a request still finishes its merge).
    sweep_seconds: float = Field(default=300.0, ge=0)


class ApiSettings(BaseModel):
    """The API process (``GITSTORE_API__*``): HTTP listener, tokens and GraphQL limits."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # HMAC key for JWTs; empty = generated once and kept in ``<data_dir>/jwt-secret`` (0600).
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    # Lifetime of a login token, in seconds.
    token_ttl_seconds: int = Field(default=3600, ge=1)
    # Cache of parsed + validated GraphQL documents per (schema version, query text).
    document_cache: bool = True
    document_cache_size: int = Field(default=1024, ge=1)
    # Automatic Persisted Queries: how many hash -> query entries to keep.
    apq_cache_size: int = Field(default=4096, ge=1)
    # Abuse limits checked at validation time.
    max_depth: int = Field(default=12, ge=1)
    max_cost: int = Field(default=5000, ge=1)
    # Mutation root fields per operation (they run serially; see api/graphql/execution/limits.py).
    max_mutation_fields: int = Field(default=25, ge=1, le=200)
    max_page_size: int = Field(default=100, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_query_tokens: int = Field(default=20_000, ge=100)
    # Peers whose X-Forwarded-For is believed (comma-separated addresses or CIDR networks,
    # e.g. "127.0.0.1" behind a local reverse proxy); empty = the TCP peer is the client.
    trusted_proxies: str = ""
    # Serve every store endpoint (/<namespace>/<repo>/graphql) as an Apollo Federation v2
    # subgraph: @key on the catalogue kinds, _service and _entities (docs/federation.md).
    federation: bool = False


class WatchSettings(BaseModel):
    """Watches over GraphQL-SSE (``GITSTORE_WATCH__*``); see docs/watch.md."""

    # Consumer group of this API process on that stream; empty = ``watch-<host>-<pid>``
    # (each process must see every poke, so replicas need distinct groups).
    group: str = ""
    # Recent changes kept in memory per repository (the resume window before the store).
    window: int = Field(default=10_000, ge=1)
    # Changes queued for one watcher before it is cut off as a slow consumer.
    watcher_buffer: int = Field(default=10_000, ge=1)
    # BOOKMARK events (and a check of the store's current version) this often, in seconds.
    bookmark_seconds: float = Field(default=30.0, gt=0)
    # SSE keep-alive comment after this many idle seconds.
    keepalive_seconds: float = Field(default=15.0, gt=0)
    # Open SSE streams (connections) per API process; more are refused with 503.
    max_streams: int = Field(default=10_000, ge=1)
    # Operations one single-connection stream may run at once.
    max_operations_per_stream: int = Field(default=100, ge=1)
    # Seconds a single-connection reservation (PUT) waits for its GET stream.
    reservation_seconds: float = Field(default=60.0, gt=0)


class AuthLimitSettings(BaseModel):
    """Back-off after failed sign-ins (``GITSTORE_AUTH__*``); see docs/identity.md.

    Passwords (``login``) are limited per account and per client address, access tokens per
    address (only unknown tokens count), SSH keys per address (in the git service). The state
    is in each process's memory: with N API replicas a client gets N times the allowance.
    """

    enabled: bool = True
    # Failed logins of one account within account_window_seconds before back-off starts.
    account_failures: int = Field(default=10, ge=0)
    account_window_seconds: float = Field(default=3600.0, gt=0)
    # Failed checks (passwords, unknown access tokens) from one address (IPv6: its /64)
    # within address_window_seconds before back-off starts.
    address_failures: int = Field(default=30, ge=0)
    address_window_seconds: float = Field(default=900.0, gt=0)
    # Refused SSH keys from one address within address_window_seconds (agents offer several).
    ssh_failures: int = Field(default=60, ge=0)
    # The first lock after the allowance, doubling with each further failure, at most max.
    base_delay_seconds: float = Field(default=1.0, gt=0)
    max_delay_seconds: float = Field(default=900.0, gt=0)
    # Accounts and addresses tracked (each); the least recently failed are dropped first.
    max_tracked: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _delays_in_order(self) -> AuthLimitSettings:
        if self.max_delay_seconds < self.base_delay_seconds:
            raise ValueError("auth.max_delay_seconds must be at least auth.base_delay_seconds")
        return self


class SshSettings(BaseModel):
    """The git service's SSH listener (``GITSTORE_SSH__*``); see docs/git-transport.md."""

    host: str = "127.0.0.1"
    # 0 = pick a free port (tests); the port is logged.
    port: int = Field(default=2222, ge=0, le=65535)
    # Off = no SSH listener (Smart HTTP still works).
    enabled: bool = True
    # Host key (OpenSSH private key); empty = ``<data_dir>/ssh_host_ed25519_key``, made once.
    host_key_path: Path | None = None


class HookGrpcSettings(BaseModel):
    """The API's hook/auth gRPC service (``GITSTORE_HOOK__GRPC__*``): the API listens on
    ``host:port``; the git service dials ``uri``."""

    host: str = "127.0.0.1"
    port: int = Field(default=50052, ge=0, le=65535)
    uri: str = "127.0.0.1:50052"
    timeout_seconds: float = 120.0


class HookSettings(BaseModel):
    """Push-time checks (``GITSTORE_HOOK__*``); see docs/git-transport.md."""

    grpc: HookGrpcSettings = HookGrpcSettings()
    # Pushed commits checked per ref update (new commits beyond this are refused as too many).
    max_commits_per_push: int = Field(default=10_000, ge=1)


class WebhookSettings(BaseModel):
    """Storefront revalidation webhooks (``GITSTORE_WEBHOOK__*``); see docs/releases.md."""

    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=50)
    # First retry after this many seconds, doubling each time (with jitter).
    backoff_seconds: float = Field(default=1.0, gt=0)
    # Allow webhook URLs on loopback/private addresses (tests, single-machine setups).
    allow_private: bool = True


class ContentSettings(BaseModel):
    """Catalogue content (``GITSTORE_CONTENT__*``)."""

    # Largest manifest file accepted by mutations (raw bytes, before parsing).
    max_manifest_bytes: int = Field(default=1024 * 1024, ge=1024)


class WorkerSettings(BaseModel):
    """The parser/projection worker (``GITSTORE_WORKER__*``); see docs/projection.md."""

    # Events handled at once (different repositories; one repository is one at a time).
    concurrency: int = Field(default=4, ge=1, le=256)
    # Documents per KV batch; a projection with more is written in chunks.
    batch_size: int = Field(default=2000, ge=1, le=10_000)
    # Chunks of a chunked projection fetched and prepared ahead of the one being written
    # (1: the next one only); bounds memory to depth + 1 chunks (docs/projection.md).
    pipeline_depth: int = Field(default=2, ge=1, le=16)
    # Standalone ``gitstore worker`` serves /metrics on this port; 0 = off.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # Queue consumer group shared by every worker.
    group: str = "projector"
    # A chunked projection whose owner has not written for this long may be taken over.
    claim_stale_seconds: float = Field(default=15.0, gt=0)
    # An event failing with an unexpected error is dropped (logged) after this many deliveries.
    max_deliveries: int = Field(default=10, ge=1)
    # Processes that parse, validate and encode large chunks (>= 1,000 files); 0 = a thread.
    # Off by default: it only pays with idle cores (see docs/projection.md, "Throughput").
    prepare_processes: int = Field(default=0, ge=0, le=64)
    # Young-generation garbage-collector threshold while a chunk is prepared (CPython's
    # default: 700); fewer collections of objects that are never in a cycle (gcpace.py).
    # 0 = leave the collector as it is.
    gc_gen0_threshold: int = Field(default=50_000, ge=0, le=10_000_000)
    # Bytes of prepared files (parsed, validated, encoded) kept so a release of a commit
    # ``draft`` already projected is not parsed again; 0 = off (docs/projection.md).
    prepared_cache_bytes: int = Field(default=128 * 1024 * 1024, ge=0)
    # A chunked projection of at least this many chunks shares them with every worker
    # process (stream ``<queue stream>-chunks``); 0 = each projection writes alone.
    share_chunks: int = Field(default=3, ge=0)
    # Shared chunks one worker process projects at once.
    chunk_concurrency: int = Field(default=2, ge=1, le=16)
    # A shared chunk not done after this long is projected by its coordinator.
    chunk_stall_seconds: float = Field(default=60.0, gt=0)
    # A release waits at most this long for a live draft projection of its commit, to copy
    # the draft instead of projecting it again (worker/release_copy.py); 0 = never waits.
    release_draft_wait_seconds: float = Field(default=300.0, ge=0)


class ConversionSettings(BaseModel):
    """Limits of WASI conversion hooks (``GITSTORE_CONVERSION__*``; docs/conversion.md),
    per hook instance; one instance converts a batch of documents. The same settings reach
    every process that runs hooks (api: mutations and pre-receive; worker: projection and
    commit statuses; ``serve``: both)."""

    # Fuel: about one unit per wasm instruction, base + per document + per input byte.
    fuel_base: int = Field(default=200_000_000, ge=1)
    fuel_per_document: int = Field(default=2_000_000, ge=0)
    fuel_per_byte: int = Field(default=2_000, ge=0)
    # Wall clock (epoch deadline): base + per document + per MiB of input.
    timeout_base_seconds: float = Field(default=2.0, gt=0)
    timeout_per_document_seconds: float = Field(default=0.002, ge=0)
    timeout_per_mib_seconds: float = Field(default=1.0, ge=0)
    # Linear memory of one instance.
    memory_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024)
    # One instance gets at most this many documents / bytes of JSON Lines.
    max_batch_documents: int = Field(default=1000, ge=1)
    max_batch_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # stdout may be output_ratio times the input or output_min_bytes, whichever is more.
    output_ratio: int = Field(default=8, ge=1)
    output_min_bytes: int = Field(default=1024 * 1024, ge=1)
    # The first stderr bytes kept for error messages.
    stderr_bytes: int = Field(default=8192, ge=0)
    # Hook instances run at once per process, and conversions queued beyond them before
    # further ones are refused as busy.
    workers: int = Field(default=2, ge=1, le=64)
    max_pending: int = Field(default=64, ge=0)

    def hook_limits(self) -> HookLimits:
        """The runner's ``HookLimits`` (``backends.wasm.WasmHookRunner(limits)``)."""
        return HookLimits(
            fuel_base=self.fuel_base,
            fuel_per_document=self.fuel_per_document,
            fuel_per_byte=self.fuel_per_byte,
            timeout_base_s=self.timeout_base_seconds,
            timeout_per_document_s=self.timeout_per_document_seconds,
            timeout_per_mib_s=self.timeout_per_mib_seconds,
            memory_bytes=self.memory_bytes,
            max_batch_documents=self.max_batch_documents,
            max_batch_bytes=self.max_batch_bytes,
            output_ratio=self.output_ratio,
            output_min_bytes=self.output_min_bytes,
            stderr_bytes=self.stderr_bytes,
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GITSTORE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = DEFAULT_DATA_DIR
    grpc: GrpcServerSettings = GrpcServerSettings()
    git: GitSettings = GitSettings()
    queue: QueueSettings = QueueSettings()
    kv: KvSettings = KvSettings()
    db: DbSettings = DbSettings()
    resources: ResourcesSettings = ResourcesSettings()
    api: ApiSettings = ApiSettings()
    worker: WorkerSettings = WorkerSettings()
    content: ContentSettings = ContentSettings()
    ssh: SshSettings = SshSettings()
    hook: HookSettings = HookSettings()
    webhook: WebhookSettings = WebhookSettings()
    auth: AuthLimitSettings = AuthLimitSettings()
    conversion: ConversionSettings = ConversionSettings()
    watch: WatchSettings = WatchSettings()
    controllers: ControllersSettings = ControllersSettings()
    changes: ChangesSettings = ChangesSettings()
    log_level: str = "INFO"

    def repos_dir(self) -> Path:
        """The directory holding ``<namespace>/<name>.git`` repositories."""
        return self.git.data_dir if self.git.data_dir is not None else self.data_dir / "repos"

    def ssh_host_key_path(self) -> Path:
        """The SSH host key file: configured, or ``<data_dir>/ssh_host_ed25519_key``."""
        if self.ssh.host_key_path is not None:
            return self.ssh.host_key_path
        return self.data_dir / "ssh_host_ed25519_key"

    def queue_url(self) -> str:
        """The effective queue URL: configured, or the embedded SQLite file in the data dir."""
        if self.queue.url:
            return self.queue.url
        return f"sqlite:///{(self.data_dir / 'queue.sqlite3').resolve()}"

    def kv_url(self) -> str:
        """The effective KV store URL: configured, or the SQLite file in the data dir."""
        if self.kv.url:
            return self.kv.url
        return f"sqlite:///{(self.data_dir / 'kv.sqlite3').resolve()}"

    def db_url(self) -> str:
        """The effective metadata store URL: configured, or the SQLite file in the data dir."""
        if self.db.url:
            return self.db.url
        return f"sqlite:///{(self.data_dir / 'metadata.sqlite3').resolve()}"

    def resources_url(self) -> str:
        """The effective resource store URL: configured, or the SQLite file in the data dir."""
        if self.resources.url:
            return self.resources.url
        return f"sqlite:///{(self.data_dir / 'resources.sqlite3').resolve()}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, then apply non-None dotted overrides.

    ``load_settings(**{"git.data_dir": "/srv/repos", "grpc.port": 0})``
    """
    settings = Settings()
    data = settings.model_dump()
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return Settings.model_validate(data)
