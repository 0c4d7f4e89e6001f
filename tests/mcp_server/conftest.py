"""One real stack per module (git service, API with ``/mcp``, projection worker), an owner
with a WRITE and a READ personal access token, and MCP client sessions over both transports:

* ``http``: the SDK's ``streamable_http_client`` against ``<api>/mcp`` with
  ``Authorization: Bearer <token>``;
* ``stdio``: the SDK's ``stdio_client`` spawning ``python -m gitstore mcp --api-url <api>``
  with ``GITSTORE_TOKEN`` in its environment (a child process, a real API over a socket).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack, running_worker, start_stack
from tests.catalog_writes.ops import make_repository
from tests.support.graphql_ops import Person, mutate, ok, person

SRC = Path(__file__).resolve().parents[2] / "src"
CREATE_TOKEN = """
mutation($input: CreateAccessTokenInput!) {
  createAccessToken(input: $input) { secret userErrors { field message code } }
}"""


@dataclass
class Agent:
    """An owner of ``repo`` and two personal access tokens."""

    owner: Person
    write_token: str
    read_token: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("mcp")) as running:
        yield running


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[WorkerService]:
    """The real projection worker, so ``wait_for_index`` sees commits indexed."""

    with running_worker(stack) as service:
        yield service


def _token(stack: Stack, owner: Person, scopes: list[str]) -> str:
    payload = ok(
        mutate(
            stack.api,
            CREATE_TOKEN,
            {"name": f"mcp-{'-'.join(scopes).lower()}", "scopes": scopes},
            owner.token,
        )
    )
    secret = payload["secret"]
    assert isinstance(secret, str) and secret.startswith("gst_")
    return secret


@pytest.fixture(scope="module")
def agent(stack: Stack) -> Agent:
    owner = person(stack.api)
    return Agent(owner, _token(stack, owner, ["READ", "WRITE"]), _token(stack, owner, ["READ"]))


@pytest.fixture
def repo(stack: Stack, agent: Agent) -> str:
    return make_repository(stack.api, agent.owner)


SessionFactory = Callable[[str, str | None], AbstractAsyncContextManager[ClientSession]]


@pytest.fixture
def connect(stack: Stack) -> SessionFactory:
    """``connect(transport, token)``: an initialised MCP client session."""

    @asynccontextmanager
    async def session(transport: str, token: str | None) -> AsyncIterator[ClientSession]:
        if transport == "http":
            headers = {"authorization": f"Bearer {token}"} if token else {}
            async with (
                httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(60.0)) as http,
                streamable_http_client(f"{stack.api.base_url}/mcp", http_client=http) as (
                    read,
                    write,
                    _session_id,
                ),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                yield client
        else:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(SRC),
                "GITSTORE_API_URL": stack.api.base_url,
            }
            if token:
                env["GITSTORE_TOKEN"] = token
            params = StdioServerParameters(
                command=sys.executable, args=["-m", "gitstore", "mcp"], env=env
            )
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                yield client

    return session
