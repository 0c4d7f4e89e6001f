"""Reaching the real backend servers the tests use (PostgreSQL, Redis, NATS).

On CI (``CI=true``) a missing server is a failure, never a skip. On a laptop without the
server, the tests that need it skip with a reason naming the server and the address.
Addresses can be moved with ``GITSTORE_TEST_REDIS_URL``, ``GITSTORE_TEST_NATS_URL`` and
``GITSTORE_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

REDIS_URL = os.environ.get("GITSTORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NATS_URL = os.environ.get("GITSTORE_TEST_NATS_URL", "nats://127.0.0.1:4222")
POSTGRES_URL = os.environ.get(
    "GITSTORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(message: str) -> None:
    """Something a test needs is not on this machine: a failure on CI, else a skip."""
    if on_ci():
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


def require_server(url: str, name: str) -> str:
    """Return ``url`` if its host:port accepts TCP connections; otherwise fail (CI) or skip."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port
    assert port is not None, f"{url} needs an explicit port"
    try:
        with socket.create_connection((host, port), timeout=2):
            return url
    except OSError as exc:
        missing(f"{name} is not reachable at {host}:{port} ({exc})")
        raise AssertionError("unreachable") from None
