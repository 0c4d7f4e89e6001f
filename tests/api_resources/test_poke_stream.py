"""The API wires the bounded ``resources`` stream: status writes over GraphQL publish their
pokes (in the background) on the SQLite queue opened with
``GITSTORE_RESOURCES__STREAM_MAX_MESSAGES``, so the stream never holds more than that."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from gitstore.backends.queue.factory import sqlite_path
from gitstore.domain.resources.model import SpecUpsert
from tests.api_releases.ops import make_repository
from tests.catalog_writes.harness import start_stack
from tests.support.graphql_ops import mutate, ok, person

LIMIT = 10
UPDATE = """
mutation($input: UpdateProductStatusInput!) {
  updateProductStatus(input: $input) { resource { resourceVersion } userErrors { code } }
}"""


def test_status_writes_keep_the_poke_stream_bounded(tmp_path: Path) -> None:
    with start_stack(tmp_path / "data", **{"resources.stream_max_messages": LIMIT}) as stack:
        owner = person(stack.api)
        repo = make_repository(stack.api, owner, publish_mode="ON_COMMIT", organisation=True)
        store = stack.api.services.resources()
        upsert = SpecUpsert("Product", "a", "gitstore.dev/v1", {"title": "A"})
        version = stack.api.run(store.apply_commit(repo, "seed", [upsert], [])).version
        for n in range(6 * LIMIT):
            payload = mutate(
                stack.api,
                UPDATE,
                {
                    "repository": repo,
                    "name": "a",
                    "resourceVersion": str(version),
                    "status": {"n": n},
                },
                owner.token,
            )
            version = int(ok(payload)["resource"]["resourceVersion"])
        announcer = stack.api.services.announcer()
        deadline = time.monotonic() + 15
        while announcer.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert announcer.pending == 0
        if announcer.published <= LIMIT:
            pytest.fail(f"only {announcer.published} pokes published: nothing to trim")
        path = sqlite_path(stack.settings.queue_url())
        with sqlite3.connect(path) as conn:
            (kept,) = conn.execute(
                "SELECT count(*) FROM queue_messages WHERE stream = 'resources'"
            ).fetchone()
        assert 0 < kept <= LIMIT
