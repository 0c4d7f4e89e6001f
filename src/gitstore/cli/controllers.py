"""``gitstore controllers``: run the built-in controllers against a running API.

They are ordinary API clients (GraphQL over HTTP, watches over graphql-sse) with a
controller token, so they run anywhere that reaches the API. Settings
``GITSTORE_CONTROLLERS__*`` (flags override): ``--api-url``, ``--token``, ``--repositories``,
``--enabled``. Runs until SIGTERM/SIGINT, then stops within ``shutdown_seconds``.
See docs/controllers.md.
"""

from __future__ import annotations

import argparse
import asyncio

from gitstore.config import Settings
from gitstore.controllers.service import ControllersService

from .options import settings_from_args
from .runner import SHUTDOWN_DEADLINE, run_services


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "controllers",
        help="run the built-in controllers (readiness, revalidation) against an API",
        description="Run the built-in controllers against a running API with a controller "
        "token. Runs until SIGTERM/SIGINT.",
    )
    parser.add_argument(
        "--api-url",
        dest="controllers_api_url",
        default=None,
        help="the API [GITSTORE_CONTROLLERS__API_URL] (http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--token",
        dest="controllers_token",
        default=None,
        help="controller token, scopes READ+STATUS [GITSTORE_CONTROLLERS__TOKEN]",
    )
    parser.add_argument(
        "--repositories",
        dest="controllers_repositories",
        default=None,
        help="namespace/repo, namespace/* or * (every repository the token reads), "
        "comma-separated; new ones are picked up [GITSTORE_CONTROLLERS__REPOSITORIES]",
    )
    parser.add_argument(
        "--enabled",
        dest="controllers_enabled",
        default=None,
        help="controllers to run [GITSTORE_CONTROLLERS__ENABLED] (readiness,revalidation;"
        " also quality, descriptions: docs/controllers.md)",
    )
    parser.set_defaults(handler=run)


def controllers_settings(args: argparse.Namespace) -> Settings:
    return settings_from_args(args)


def run(args: argparse.Namespace) -> int:
    settings = controllers_settings(args)
    service = ControllersService(settings.controllers)
    asyncio.run(run_services([service], deadline=SHUTDOWN_DEADLINE))
    return 0
