"""Fixtures for API tests (reusable by every schema module's tests).

* ``api_server``: one real server per test module (memory metadata store, configured JWT
  secret); tests make their own users with ``api_server.create_user()`` /
  ``api_server.user_token(admin=...)`` so they do not depend on each other.
* ``api_server_factory(**settings_overrides, modules=..., metadata_store=...)``: a server
  with custom settings for one test (stopped at the end of the test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from .server import ApiServer, api_settings, start_api_server

ServerFactory = Callable[..., ApiServer]


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with start_api_server(api_settings(tmp_path_factory.mktemp("api"))) as server:
        yield server


@pytest.fixture
def api_server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    with ExitStack() as stack:

        def factory(
            *,
            data_dir: Path | None = None,
            modules: Any = None,
            metadata_store: Any = None,
            **overrides: Any,
        ) -> ApiServer:
            settings = api_settings(data_dir or tmp_path, **overrides)
            return stack.enter_context(
                start_api_server(settings, modules=modules, metadata_store=metadata_store)
            )

        yield factory
