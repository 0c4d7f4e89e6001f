"""The reference ``graphql-sse`` JavaScript client, unchanged, against the real server.

The client is pinned in ``tests/sse/js/package.json`` + ``package-lock.json`` and installed
with ``npm ci`` into ``tests/sse/js/node_modules`` by this module (once) when missing; the
tests skip (fail on CI) when node or npm is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import missing
from tests.sse.harness import watch_server

JS = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def node() -> str:
    return reference_client()


def reference_client() -> str:
    """The node binary, with the pinned client installed (skips without node and npm)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing("node and npm are needed for the graphql-sse client tests")
        raise AssertionError("unreachable")
    if not (JS / "node_modules" / "graphql-sse").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=JS, check=True, timeout=300
        )
    return node


@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_reference_client_subscribes(tmp_path: Path, node: str, mode: str) -> None:
    with watch_server(tmp_path, f"sqlite:///{tmp_path / 'q.sqlite3'}") as server:
        repo = server.public
        server.write(repo, "Product", "a", {"title": "A"})
        server.write(repo, "Product", "b", {"title": "B"})
        url = f"{server.api.base_url}/graphql"
        with subprocess.Popen(
            [node, str(JS / "watch.mjs"), url, mode, repo, "4", server.token],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(3)]  # ADDED a, ADDED b, BOOKMARK
            server.write(repo, "Product", "a", {"title": "A2"})
            lines.append(process.stdout.readline())
            _, errors = process.communicate(timeout=60)
            assert process.returncode == 0, errors
        events = [json.loads(line)["data"]["watchResources"] for line in lines]
        assert [(e["type"], e["resourceVersion"]) for e in events] == [
            ("ADDED", "1"),
            ("ADDED", "2"),
            ("BOOKMARK", "2"),
            ("MODIFIED", "3"),
        ]
        assert events[3]["object"]["spec"] == {"title": "A2"}
