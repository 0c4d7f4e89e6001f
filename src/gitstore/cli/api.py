"""``gitstore api``: serve the GraphQL API over HTTP with uvicorn.

Listens on ``--api-host``/``--api-port`` (``GITSTORE_API__HOST``/``PORT``, 127.0.0.1:8080),
keeps users and tokens in the metadata store (``--db-url``, default the SQLite file in
``--data-dir``) and reaches the git service at ``--git-grpc-uri``. Configuration errors found
before serving (a bad store URL, a too-short JWT secret) are one clear error line.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from gitstore.api.app import create_app
from gitstore.api.identity.signing_key import load_signing_key
from gitstore.backends.metadata.factory import open_metadata_store
from gitstore.config import Settings

from .options import add_data_dir, add_git_client_flags, settings_from_args


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api",
        help="run the GraphQL API (HTTP)",
        description="Serve /graphql, /healthz and /metrics over HTTP.",
    )
    add_data_dir(parser)
    add_git_client_flags(parser)
    parser.add_argument(
        "--api-host", default=None, help="HTTP bind address [GITSTORE_API__HOST] (127.0.0.1)"
    )
    parser.add_argument(
        "--api-port", type=int, default=None, help="HTTP port [GITSTORE_API__PORT] (8080)"
    )
    parser.add_argument(
        "--db-url",
        default=None,
        help="metadata store URL: sqlite:///..., postgresql://... [GITSTORE_DB__URL]",
    )
    parser.set_defaults(handler=run)


def check_settings(settings: Settings) -> None:
    """Fail fast, with the project's error types, on what the lifespan would trip over."""
    open_metadata_store(settings.db_url())  # validates the URL; opens nothing
    secret = settings.api.jwt_secret.get_secret_value() if settings.api.jwt_secret else None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_signing_key(secret, settings.data_dir, settings.api.jwt_algorithm)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_settings(settings)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.api.host,
        port=settings.api.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="none",
        server_header=False,
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve())
    return 0 if server.started else 1
