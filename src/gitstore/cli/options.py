"""Flags shared by subcommands; each flag mirrors a ``GITSTORE_`` environment variable.

A flag left unset keeps whatever the environment (or the default) says, so
``GITSTORE_GRPC__PORT=6000 gitstore git-service`` and ``gitstore git-service --grpc-port 6000``
are the same thing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gitstore.config import Settings, load_settings


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data directory [GITSTORE_DATA_DIR] (./data)"
    )


def add_git_service_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--git-data-dir",
        type=Path,
        default=None,
        help="bare repository directory [GITSTORE_GIT__DATA_DIR] (<data-dir>/repos)",
    )
    parser.add_argument(
        "--grpc-host", default=None, help="gRPC bind address [GITSTORE_GRPC__HOST] (127.0.0.1)"
    )
    parser.add_argument(
        "--grpc-port", type=int, default=None, help="gRPC port [GITSTORE_GRPC__PORT] (50051)"
    )


def add_queue_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queue-url",
        default=None,
        help="event queue URL: sqlite:///..., redis://..., nats://... [GITSTORE_QUEUE__URL]",
    )


def add_git_client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--git-grpc-uri",
        default=None,
        help="git service address [GITSTORE_GIT__GRPC__URI] (127.0.0.1:50051)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment with any flag given on the command line on top."""
    mapping = {
        "data_dir": "data_dir",
        "git_data_dir": "git.data_dir",
        "grpc_host": "grpc.host",
        "grpc_port": "grpc.port",
        "queue_url": "queue.url",
        "git_grpc_uri": "git.grpc.uri",
        "api_host": "api.host",
        "api_port": "api.port",
        "db_url": "db.url",
    }
    overrides = {
        dotted: getattr(args, attr) for attr, dotted in mapping.items() if hasattr(args, attr)
    }
    return load_settings(**overrides)


def with_git_uri(settings: Settings, uri: str) -> Settings:
    """A copy of ``settings`` whose clients reach the git service at ``uri``."""
    grpc = settings.git.grpc.model_copy(update={"uri": uri})
    return settings.model_copy(update={"git": settings.git.model_copy(update={"grpc": grpc})})
