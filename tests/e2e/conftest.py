"""Fixtures: ``gitstore serve`` subprocesses, one per backend configuration for the session.

* ``served`` is parametrised: ``embedded`` (every backend in the data dir: SQLite metadata,
  queue and KV) and ``redis-nats`` (events on NATS JetStream with a unique stream, the KV on
  Redis under a unique key prefix; metadata still SQLite). The server-backed one needs the
  real servers (``tests/servers.py``: skipped on a laptop without them, a failure under
  ``CI=true``); its stream and keys are removed afterwards. Both raise the request body limit
  (``GITSTORE_API__MAX_BODY_BYTES``) to 16 MiB so a 10 MB description reaches validation.
* ``owner``: an admin created with the ``gitstore user create`` CLI and logged in over HTTP.
* ``repo``: a fresh public repository per test in the namespace ``e2e`` (tests never share
  commit counts or heads).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from gitstore.backends.queue.factory import open_queue
from tests.servers import NATS_URL, POSTGRES_URL, REDIS_URL, require_server

from .flows import create_namespace, create_repository, login
from .served import Served

BODY_LIMIT = str(16 * 1024 * 1024)
PASSWORD = "correct-horse-battery"
_repos = itertools.count(1)


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    token: str


def _drop_stream(url: str, stream: str) -> None:
    async def drop() -> None:
        queue = await open_queue(url, stream=stream)
        try:
            await queue.drop()
        finally:
            await queue.close()

    asyncio.run(drop())


def _delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def _drop_schema(url: str, schema: str) -> int:
    """Drop ``schema``; how many repositories it held (the API really used PostgreSQL)."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            row = conn.execute(f"SELECT count(*) FROM {schema}.repositories".encode()).fetchone()
        except psycopg.errors.UndefinedTable:
            row = (0,)
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())
    return int(row[0]) if row else 0


@contextlib.contextmanager
def deployment(kind: str, data_dir: Path) -> Iterator[Served]:
    """A running GitStore of ``kind`` (``embedded``, ``redis-nats`` or ``split``) on
    ``data_dir``, stopped (exit code checked) and its server-side state removed afterwards."""
    env = {"GITSTORE_API__MAX_BODY_BYTES": BODY_LIMIT}
    args: tuple[str, ...] = ()
    stream = prefix = schema = ""
    if kind in ("redis-nats", "split"):
        redis_url = require_server(REDIS_URL, "Redis")
        nats_url = require_server(NATS_URL, "NATS")
        tag = uuid.uuid4().hex[:10]
        stream, prefix = f"e2e-{tag}", f"e2e-{tag}:"
        env["GITSTORE_QUEUE__STREAM"] = stream
        env["GITSTORE_KV__URL"] = f"{redis_url}?prefix={prefix}"
        args = ("--queue-url", nats_url)
    if kind == "split":
        env["GITSTORE_QUEUE__URL"] = nats_url
        schema = f"e2e_{tag}"
        postgres = require_server(POSTGRES_URL, "PostgreSQL")
        env["GITSTORE_DB__URL"] = f"{postgres}{'&' if '?' in postgres else '?'}schema={schema}"
    if kind == "split":
        server = Served.start_split(data_dir, env=env)
    else:
        server = Served.start(data_dir, env=env, args=args)
    try:
        yield server
    finally:
        code = server.stop()
        if stream:
            _drop_stream(NATS_URL, stream)
            _delete_keys(REDIS_URL, prefix)
        repositories = _drop_schema(POSTGRES_URL, schema) if schema else -1
        assert code == 0, f"gitstore exited with {code}:\n{server.log}"
        assert repositories != 0, "the split deployment's API did not write to PostgreSQL"


@pytest.fixture(scope="session", params=["embedded", "redis-nats", "split"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp(f"e2e-{request.param}") / "data"
    with deployment(request.param, data_dir) as server:
        yield server


def make_user(served: Served, name: str, *, admin: bool = False) -> Person:
    args = ["user", "create", name, "--password-stdin", "--data-dir", str(served.data_dir)]
    done = served.cli(*args, *(["--admin"] if admin else []), stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    return Person(name, PASSWORD, login(served, name, PASSWORD))


@pytest.fixture(scope="session")
def owner(served: Served) -> Person:
    person = make_user(served, "owner", admin=True)
    create_namespace(served, person.token, "e2e")
    return person


@pytest.fixture
def repo(served: Served, owner: Person) -> str:
    return create_repository(served, owner.token, f"e2e/shop-{next(_repos)}")
