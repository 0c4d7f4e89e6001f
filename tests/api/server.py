"""A real ``gitstore api`` server for tests: uvicorn on an ephemeral port, in a thread.

``start_api_server(settings, ...)`` is a context manager yielding an :class:`ApiServer`:
the base URL, an ``httpx.Client``, ``graphql(...)`` to post a query, and helpers that create
users and log them in. Work that must run on the server's event loop (the memory store is
loop-bound) goes through ``server.run(coroutine)``. Reused by every API test module; see
``conftest.py`` for the fixtures.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette

from gitstore.api.app import create_app
from gitstore.api.graphql.builder import SchemaModule
from gitstore.api.identity.passwords import Passwords
from gitstore.api.services import ApiServices
from gitstore.backends.metadata.base import MetadataStore, User
from gitstore.config import Settings, load_settings
from tests.support.uvicorn_thread import serve_in_thread

T = TypeVar("T")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
TEST_JWT_SECRET = "test-secret-" + "x" * 60  # long enough for HS512 too
PASSWORD = "correct-horse-battery"
LOGIN = """
mutation Login($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) {
    token expiresAt user { id username isAdmin }
    userErrors { field message code }
  }
}"""

_names = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    return Passwords().hash(PASSWORD)


def unique_name(prefix: str = "user") -> str:
    """A fresh DNS-label name, distinct within the test session."""
    return f"{prefix}-{next(_names)}"


def api_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "db.url": "memory://",
        "api.jwt_secret": TEST_JWT_SECRET,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class ApiServer:
    base_url: str
    app: Starlette
    client: httpx.Client
    loop: asyncio.AbstractEventLoop

    @property
    def services(self) -> ApiServices:
        services = self.app.state.services
        assert isinstance(services, ApiServices)
        return services

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the server's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def graphql(
        self,
        query: str | None,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        accept: str | None = GRAPHQL_RESPONSE,
        operation_name: str | None = None,
        extensions: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {}
        if query is not None:
            body["query"] = query
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        if extensions is not None:
            body["extensions"] = extensions
        sent = dict(headers or {})
        if accept is not None:
            sent["Accept"] = accept
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        request = self.client.build_request("POST", "/graphql", json=body, headers=sent)
        if accept is None:
            del request.headers["Accept"]  # httpx sends */* by default
        return self.client.send(request)

    def create_user(
        self, username: str | None = None, password: str = PASSWORD, *, admin: bool = False
    ) -> User:
        """A new user straight in the store. With the default password the argon2 hash is
        computed once per session (hashing costs ~0.5 s of CPU on a busy machine)."""
        name = username or unique_name("admin" if admin else "user")
        if password != PASSWORD:
            return self.run(
                self.services.identity.bootstrap_user(name, password, is_admin=admin, actor="test")
            )
        return self.run(self.services.store.create_user(name, _password_hash(), is_admin=admin))

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.graphql(LOGIN, {"u": username, "p": password})
        payload = response.json()["data"]["login"]
        assert payload["userErrors"] == [], payload
        token = payload["token"]
        assert isinstance(token, str)
        return token

    def user_token(self, *, admin: bool = False) -> tuple[User, str]:
        """A new user (admin or not) and a login token for it, issued by the server's own
        token codec (``login`` over HTTP is tested on its own and costs an argon2 check)."""
        user = self.create_user(admin=admin)
        return user, self.services.identity.jwt.issue(user.id, is_admin=admin).token


@contextmanager
def start_api_server(
    settings: Settings,
    *,
    metadata_store: MetadataStore | None = None,
    modules: Sequence[SchemaModule] | None = None,
) -> Iterator[ApiServer]:
    app = create_app(settings, metadata_store=metadata_store, modules=modules)
    with serve_in_thread(app, name="api-server") as (base_url, client, loop):
        yield ApiServer(base_url, app, client, loop)
