"""``gitstore events dead-letters list|replay|drop``: events set aside so others could go on.

Two stores hold them (docs/queue.md, "Dead letters"):

* ``queue:<id>`` - messages the worker group (``--group``, default ``GITSTORE_WORKER__GROUP``)
  could not handle: failed for good, or failed/crashed on every allowed delivery. They live
  in the queue backend (``--queue-url``). ``replay`` publishes the message again (a new id);
  ``drop`` forgets it.
* ``outbox:<n>`` - ref-update rows the git service's relay could not publish (the queue
  refused them for good, or they kept failing while other rows went through). They live in
  the outbox file of the repositories directory (``--data-dir`` / ``--git-data-dir``), so
  run the command where the git service runs. ``replay`` moves the row back into the outbox;
  the running git service picks it up within ``adopt_every`` (10 s) and publishes it,
  shrinking it to its reference form if it is too large.

An id without a prefix is a queue id. Exit code 0; an unknown id is reported and makes the
exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from typing import Any

from gitstore.backends.queue.base import Queue
from gitstore.backends.queue.factory import open_queue
from gitstore.config import Settings
from gitstore.domain.errors import InvalidArgument
from gitstore.gitservice.outbox import Outbox
from gitstore.gitservice.server import OUTBOX_FILE

from .options import add_data_dir, add_git_service_flags, add_queue_flags, settings_from_args


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "events",
        help="inspect and repair the event pipeline (dead letters)",
        description="Events that could not be published or handled are set aside as dead "
        "letters so that the others go on. List, replay or drop them.",
    )
    commands = parser.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    dead = commands.add_parser("dead-letters", help="list, replay or drop dead letters")
    actions = dead.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("list", "show dead letters, oldest first"),
        ("replay", "publish dead letters again and remove them"),
        ("drop", "delete dead letters for good"),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        add_data_dir(sub)
        add_git_service_flags(sub)
        add_queue_flags(sub)
        sub.add_argument("--group", default=None, help="consumer group (GITSTORE_WORKER__GROUP)")
        if name == "list":
            sub.add_argument("--limit", type=int, default=100, help="at most this many (100)")
            sub.add_argument("--json", action="store_true", help="one JSON object per line")
        else:
            sub.add_argument("ids", nargs="+", metavar="ID", help="queue:<id> or outbox:<n>")
        sub.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    return asyncio.run(_run(args, settings))


def _outbox(settings: Settings) -> Outbox | None:
    path = settings.repos_dir() / OUTBOX_FILE
    return Outbox(path, fsync=settings.git.fsync) if path.exists() else None


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    group = args.group or settings.worker.group
    queue = await open_queue(
        settings.queue_url(), stream=settings.queue.stream, ack_wait=settings.queue.ack_wait
    )
    outbox = _outbox(settings)
    try:
        if args.action == "list":
            await _list(queue, outbox, group, args.limit, as_json=args.json)
            return 0
        failed = 0
        for raw in args.ids:
            store, _, ident = raw.rpartition(":")
            ok = await _act(args.action, queue, outbox, group, store or "queue", ident)
            print(f"{args.action} {raw}: {'done' if ok else 'no such dead letter'}")
            failed += not ok
        return 1 if failed else 0
    finally:
        await queue.close()
        if outbox is not None:
            outbox.close()


async def _act(
    action: str, queue: Queue, outbox: Outbox | None, group: str, store: str, ident: str
) -> bool:
    if store == "queue":
        if action == "replay":
            return await queue.replay_dead_letter(group, ident) is not None
        return await queue.drop_dead_letter(group, ident)
    if store != "outbox":
        raise InvalidArgument(f"unknown dead-letter store {store!r}: use queue: or outbox:")
    if not ident.isdigit():
        raise InvalidArgument(f"invalid outbox dead-letter id {ident!r}", field="id")
    if outbox is None:
        return False
    return outbox.revive(int(ident)) if action == "replay" else outbox.drop_dead(int(ident))


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _list(
    queue: Queue, outbox: Outbox | None, group: str, limit: int, *, as_json: bool
) -> None:
    rows: list[dict[str, Any]] = []
    for d in await queue.dead_letters(group, limit=limit):
        rows.append(
            {
                "id": f"queue:{d.id}",
                "repository": d.key,
                "message_id": d.message_id,
                "deliveries": d.delivery_count,
                "bytes": len(d.body),
                "dead_at": _when(d.dead_at),
                "reason": d.reason,
            }
        )
    for r in outbox.dead_rows(limit) if outbox is not None else []:
        rows.append(
            {
                "id": f"outbox:{r.id}",
                "repository": r.repository_id,
                "event_id": r.event_id,
                "ref": r.ref,
                "new": r.new,
                "bytes": r.size,
                "dead_at": _when(r.dead_at),
                "reason": r.reason,
            }
        )
    if as_json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return
    total = await queue.dead_letter_count(group)
    kept = outbox.dead_count() if outbox is not None else 0
    print(f"{total} in queue {queue.stream!r} group {group!r}; {kept} in the outbox")
    for row in rows:
        print(
            f"{row['id']:<16} {row['repository']:<32} {row['dead_at']} {row['bytes']:>8}B "
            f"{row['reason']}"
        )
    sys.stdout.flush()
