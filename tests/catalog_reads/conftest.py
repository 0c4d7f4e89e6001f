"""Fixtures for the storefront read tests: the platform's real API servers (uvicorn over HTTP,
``tests/api``) with the KV projection pre-populated by applying batches directly, in the shapes
``gitstore.domain.projection`` defines (the worker is not involved).

* ``api_server`` / ``api_server_factory``: from ``tests/api/conftest.py`` (SQLite KV in the
  server's data dir by default; ``**{"kv.url": ...}`` for another backend);
* ``shop``: one seeded catalogue per test module (see ``seed.py``).
"""

from __future__ import annotations

import pytest

from tests.api.conftest import api_server, api_server_factory
from tests.api.server import ApiServer

from .seed import Shop, seed_shop

__all__ = ["api_server", "api_server_factory", "shop"]


@pytest.fixture(scope="module")
def shop(api_server: ApiServer) -> Shop:
    return seed_shop(api_server)
