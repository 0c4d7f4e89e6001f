"""Runs ``js/gateway.mjs`` (the pinned Apollo toolchain) against a GitStore store endpoint.

The packages are pinned in ``js/package.json`` + ``package-lock.json`` and installed with
``npm ci`` into ``js/node_modules`` (once) when missing; without node or npm the tests skip
(fail under ``CI=true``, ``tests.servers.missing``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.servers import missing

JS = Path(__file__).parent / "js"


def node_binary() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing("node and npm are needed for the Apollo Federation tests")
        raise AssertionError("unreachable")
    if not (JS / "node_modules" / "@apollo" / "gateway").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=JS, check=True, timeout=600
        )
    return node


def run_gateway(
    node: str,
    url: str,
    reviews: dict[str, Any],
    queries: dict[str, str],
    *,
    token: str = "",
    conflict: bool = False,
) -> dict[str, Any]:
    """Compose ``url``'s subgraph with the reviews subgraph, run ``queries`` through the
    gateway; the script's JSON answer (``composed``, ``errors`` or ``supergraph`` +
    ``results``)."""
    args = [node, str(JS / "gateway.mjs"), url, token, json.dumps(reviews), json.dumps(queries)]
    done = subprocess.run(
        [*args, *(["--conflict"] if conflict else [])],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    return result
