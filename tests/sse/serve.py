"""``python -m tests.sse.serve <feed.sqlite3>``: ``gitstore api`` (``ApiUnit``, signals and
shutdown as the real command) with watches fed by a :class:`SqliteFeed`; settings from the
``GITSTORE_*`` environment."""

from __future__ import annotations

import asyncio
import logging
import sys

from gitstore.cli.api import ApiUnit
from gitstore.cli.runner import run_services
from gitstore.config import load_settings
from tests.sse.sqlite_feed import SqliteFeed


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
    feed = SqliteFeed(sys.argv[1])
    asyncio.run(run_services([ApiUnit(load_settings(), resource_feed=feed)], deadline=30))


if __name__ == "__main__":
    main()
