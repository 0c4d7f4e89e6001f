"""Flags shared by subcommands; each flag mirrors a ``GITSTORE_`` environment variable.

A flag left unset keeps whatever the environment (or the default) says, so
``GITSTORE_GRPC__PORT=6000 gitstore git-service`` and ``gitstore git-service --grpc-port 6000``
are the same thing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from gitstore.config import Settings, load_settings
from gitstore.domain.errors import InvalidArgument


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


# argparse attribute -> dotted setting. A flag is named like its attribute (``kv_url`` is
# ``--kv-url``); ``settings_from_args`` names the flag or the variable in its errors.
FLAG_SETTINGS = {
    "data_dir": "data_dir",
    "git_data_dir": "git.data_dir",
    "grpc_host": "grpc.host",
    "grpc_port": "grpc.port",
    "queue_url": "queue.url",
    "git_grpc_uri": "git.grpc.uri",
    "api_host": "api.host",
    "api_port": "api.port",
    "db_url": "db.url",
    "kv_url": "kv.url",
    "metrics_port": "worker.metrics_port",
    "concurrency": "worker.concurrency",
    "ssh_host": "ssh.host",
    "ssh_port": "ssh.port",
    "ssh_enabled": "ssh.enabled",
    "hook_host": "hook.grpc.host",
    "hook_port": "hook.grpc.port",
    "hook_uri": "hook.grpc.uri",
    # ``gitstore controllers`` flags (their own dests: ``repo optimize`` has a positional
    # ``repositories``, ``mcp`` a ``--token`` of its own)
    "controllers_api_url": "controllers.api_url",
    "controllers_token": "controllers.token",
    "controllers_repositories": "controllers.repositories",
    "controllers_enabled": "controllers.enabled",
}


def add_ssh_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ssh-host", default=None, help="SSH bind address [GITSTORE_SSH__HOST] (127.0.0.1)"
    )
    parser.add_argument(
        "--ssh-port", type=int, default=None, help="SSH port [GITSTORE_SSH__PORT] (2222)"
    )
    parser.add_argument(
        "--no-ssh",
        dest="ssh_enabled",
        action="store_const",
        const=False,
        default=None,
        help="do not serve git over SSH [GITSTORE_SSH__ENABLED=false]",
    )


def add_hook_client_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hook-uri",
        default=None,
        help="the API's hook service address [GITSTORE_HOOK__GRPC__URI] (127.0.0.1:50052)",
    )


def add_hook_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hook-host",
        default=None,
        help="hook service bind address [GITSTORE_HOOK__GRPC__HOST] (127.0.0.1)",
    )
    parser.add_argument(
        "--hook-port",
        type=int,
        default=None,
        help="hook service gRPC port [GITSTORE_HOOK__GRPC__PORT] (50052)",
    )


def add_kv_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kv-url",
        default=None,
        help="KV store URL: sqlite:///..., redis://... [GITSTORE_KV__URL] (<data-dir>/kv.sqlite3)",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment with any flag given on the command line on top.

    A bad value is ``InvalidArgument`` naming the flag (or the environment variable)."""
    given = {
        dotted: getattr(args, attr) for attr, dotted in FLAG_SETTINGS.items() if hasattr(args, attr)
    }
    try:
        return load_settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        dotted = ".".join(str(part) for part in error["loc"])
        flags = {v: k for k, v in FLAG_SETTINGS.items()}
        attr = flags.get(dotted)
        if attr is not None and given.get(dotted) is not None:
            name = "--" + attr.replace("_", "-")
        else:
            name = "GITSTORE_" + dotted.replace(".", "__").upper()
        raise InvalidArgument(f"{name}: {error['msg']}", field=dotted) from None


def with_hook_uri(settings: Settings, uri: str) -> Settings:
    """A copy of ``settings`` whose git service reaches the API's hook service at ``uri``."""
    grpc = settings.hook.grpc.model_copy(update={"uri": uri})
    return settings.model_copy(update={"hook": settings.hook.model_copy(update={"grpc": grpc})})


def with_git_uri(settings: Settings, uri: str) -> Settings:
    """A copy of ``settings`` whose clients reach the git service at ``uri``."""
    grpc = settings.git.grpc.model_copy(update={"uri": uri})
    return settings.model_copy(update={"git": settings.git.model_copy(update={"grpc": grpc})})
