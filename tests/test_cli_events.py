"""``gitstore events dead-letters list|replay|drop`` on a data dir (SQLite queue + outbox)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from gitstore.backends.queue.factory import open_queue
from gitstore.cli.main import main
from gitstore.domain.events import RefUpdateEvent
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.server import OUTBOX_FILE


def _event(repository: str) -> RefUpdateEvent:
    return RefUpdateEvent(uuid.uuid4().hex, repository, "refs/heads/main", "a" * 40, "b" * 40)


async def _dead_queue_message(data: Path) -> None:
    queue = await open_queue(f"sqlite:///{data}/queue.sqlite3", stream="gitstore-events")
    try:
        await queue.publish(_event("acme/shop").to_json(), key="acme/shop")
        [message] = await queue.fetch("projector", "w1", timeout=1.0)
        await queue.dead_letter("projector", message, "handler refused it")
    finally:
        await queue.close()


def test_list_replay_and_drop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITSTORE_QUEUE__URL", "GITSTORE_GIT__DATA_DIR", "GITSTORE_WORKER__GROUP"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    (data / "repos").mkdir(parents=True)
    asyncio.run(_dead_queue_message(data))
    outbox = Outbox(data / "repos" / OUTBOX_FILE, fsync=False)
    row = outbox.intent(_event("acme/huge"))
    outbox.committed(row)
    outbox.bury(row, "queue refused it")
    outbox.close()
    base = ["events", "dead-letters"]

    assert main([*base, "list", "--data-dir", str(data), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["repository"], r["reason"]) for r in rows] == [
        ("queue:1", "acme/shop", "handler refused it"),
        (f"outbox:{row}", "acme/huge", "queue refused it"),
    ]
    assert main([*base, "list", "--data-dir", str(data)]) == 0
    assert "1 in queue 'gitstore-events' group 'projector'; 1 in the outbox" in (
        capsys.readouterr().out
    )

    assert main([*base, "replay", "--data-dir", str(data), "queue:1", f"outbox:{row}"]) == 0
    assert capsys.readouterr().out.count(": done") == 2
    assert main([*base, "drop", "--data-dir", str(data), "1"]) == 1  # replayed: gone
    assert "no such dead letter" in capsys.readouterr().out
    reopened = Outbox(data / "repos" / OUTBOX_FILE, fsync=False)
    try:
        assert reopened.dead_count() == 0 and reopened.count() == 1  # back, for the relay
    finally:
        reopened.close()

    async def replayed() -> bytes:
        queue = await open_queue(f"sqlite:///{data}/queue.sqlite3", stream="gitstore-events")
        try:
            [message] = await queue.fetch("projector", "w1", timeout=1.0)
            return message.body
        finally:
            await queue.close()

    assert RefUpdateEvent.from_json(asyncio.run(replayed())).repository_id == "acme/shop"
    assert main([*base, "drop", "--data-dir", str(data), "bogus:1"]) == 2
