"""Settings: environment variables with the ``GITSTORE_`` prefix and ``__`` for nesting.

``GITSTORE_GIT__GRPC__URI`` is ``settings.git.grpc.uri``; ``GITSTORE_GRPC__PORT`` is
``settings.grpc.port``. CLI flags of the same name (``--git-data-dir``, ``--grpc-port``, ...)
override the environment; the CLI turns them into keyword overrides of :func:`load_settings`.

Defaults describe the embedded single-machine deployment (``gitstore serve``): everything
lives in ``./data``, the queue is a SQLite file there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class GrpcServerSettings(BaseModel):
    """The git service's gRPC listener (``GITSTORE_GRPC__*``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    max_workers: int = Field(default=16, ge=1)


class GitGrpcClientSettings(BaseModel):
    """How clients (api, worker) reach the git service (``GITSTORE_GIT__GRPC__*``)."""

    uri: str = "127.0.0.1:50051"
    timeout_seconds: float = 30.0


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


class QueueSettings(BaseModel):
    """Event queue (``GITSTORE_QUEUE__*``).

    ``sqlite:///path`` (default: ``<data>/queue.sqlite3``), ``redis://host:port/db`` (Redis
    Streams) or ``nats://host:port`` (JetStream).
    """

    url: str = ""
    stream: str = "gitstore-events"


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
    log_level: str = "INFO"

    def repos_dir(self) -> Path:
        """The directory holding ``<namespace>/<name>.git`` repositories."""
        return self.git.data_dir if self.git.data_dir is not None else self.data_dir / "repos"

    def queue_url(self) -> str:
        """The effective queue URL: configured, or the embedded SQLite file in the data dir."""
        if self.queue.url:
            return self.queue.url
        return f"sqlite:///{(self.data_dir / 'queue.sqlite3').resolve()}"


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
