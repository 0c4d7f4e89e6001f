"""``gitstore mcp``: the MCP server for agents, over stdio (docs/mcp.md).

An API client like ``gitstore demo``: every tool call is a GraphQL operation POSTed to
``<api-url>/graphql`` with the token (``GITSTORE_TOKEN``, or ``--token``) as a Bearer
token, so the agent can do exactly what that token can do. The MCP client (Claude Desktop,
an IDE, an agent framework) starts this command and speaks JSON-RPC on its stdin/stdout;
logs go to stderr. The same tools are served over streamable HTTP at ``/mcp`` on the API.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from gitstore.api.mcp.executor import GraphQLExecutor, HttpExecutor
from gitstore.api.mcp.tools import build_server
from gitstore.domain.errors import InvalidArgument

DEFAULT_URL = "http://127.0.0.1:8080"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help="MCP server for agents over stdio (a client of a running API)",
        description="Serve GitStore's MCP tools on stdin/stdout for an MCP client. Each tool "
        "runs GraphQL against the API with the given personal access token.",
    )
    parser.add_argument(
        "--api-url",
        default=os.environ.get("GITSTORE_API_URL", DEFAULT_URL),
        help=f"the API's base URL (GITSTORE_API_URL, default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="personal access token (default: GITSTORE_TOKEN; prefer the environment, "
        "a flag shows in the process list); none: anonymous",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    url = str(args.api_url)
    if not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"--api-url must be an http:// or https:// URL, got {url!r}")
    token = args.token or os.environ.get("GITSTORE_TOKEN") or None
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per call on stderr is noise
    executor = HttpExecutor(url, token)

    async def executor_for(_ctx: Any) -> GraphQLExecutor:
        return executor

    build_server(executor_for).run("stdio")
    return 0
