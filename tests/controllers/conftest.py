from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.served import Served

from .harness import Catalog, start_catalog


@pytest.fixture(scope="package")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    data_dir: Path = tmp_path_factory.mktemp("controllers") / "data"
    server = Served.start(data_dir)
    try:
        yield start_catalog(server)
    finally:
        code = server.stop()
        assert code == 0, f"gitstore serve exited with {code}:\n{server.log[-4000:]}"
