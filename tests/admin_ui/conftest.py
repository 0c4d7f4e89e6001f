"""The admin web interface driven by a real browser (Playwright + Debian's chromium, headless)
against a real stack: the API (uvicorn, ephemeral port) with the git service (gRPC) and the
projection worker, as in ``tests/api_resources/test_end_to_end.py``.

Screenshots of the main pages go to ``build/screenshots/`` (gitignored) for a reviewer.
Chromium is ``/usr/bin/chromium`` (``scripts/toolchain.sh`` installs it; override with
``GITSTORE_CHROMIUM``). Without it, or without the ``playwright`` package (the dev extra),
the tests fail on CI (``CI=true``) and skip elsewhere, with a message saying what to install
(``tests/servers.py``: the rule for every real dependency of the tests).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitstore.worker.service import WorkerService
from tests.catalog_writes.harness import Stack, running_worker, start_stack
from tests.servers import missing

if TYPE_CHECKING:  # imported where used: a missing playwright is reported by the test module
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = os.environ.get("GITSTORE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("admin-ui")) as running:
        yield running


@pytest.fixture(scope="package")
def worker(stack: Stack) -> Iterator[WorkerService]:
    with running_worker(stack) as service:
        yield service


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        missing(
            f"no chromium at {CHROMIUM}: run scripts/toolchain.sh (apt-get install chromium) "
            "or set GITSTORE_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (empty sessionStorage) at laptop size. Console errors and
    uncaught exceptions (a CSP violation is one) fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # 401 answers to a bad password are expected network errors, not page errors
        if message.type == "error" and "status of 401" not in message.text:
            problems.append(f"console: {message.text} at {message.location.get('url')}")

    opened.on("console", console)
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.set_default_timeout(20_000)
    try:
        yield opened
        assert problems == [], problems
    finally:
        context.close()


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
