"""``gitstore repo reindex NS/REPO [--accept-differences] [--abandon]``: shadow re-indexing.

An API client (``--url``, ``--token`` or ``GITSTORE_TOKEN``: a maintainer's, owner's or
admin's). It starts a re-index (``startShadowReindex``) — or, with ``--accept-differences``
when one is waiting on a DIFFERENT comparison, accepts it (``acceptShadowReindex``); with
``--abandon`` it abandons the unfinished one (``abandonShadowReindex``) — then polls
``shadowReindex`` and shows progress (a status line on a terminal, a line per state change
otherwise: the documents in the shadow so far), and prints the comparison per view: counts per
kind and per index (current → shadow), documents differing, a sample. Exit code 0 when it
switched (or was abandoned on request), 2 when it stopped on differences (rerun with
``--accept-differences`` to switch, or ``--abandon``), 1 when it failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

from gitstore.domain.errors import FailedPrecondition, InvalidArgument
from gitstore.domain.reindex import ABANDONED, DIFFERENT, SWITCHED, TERMINAL

from .graphql_client import GraphQLClient, raise_user_errors

DEFAULT_API_URL = "http://127.0.0.1:8080"
STATE = "query S($r: String!) { shadowReindex(repository: $r) }"
MUTATION = """
mutation M($input: {Name}Input!) {
  {name}(input: $input) { id reindex userErrors { field message code } }
}"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "reindex",
        help="re-project a repository into shadow buffers, compare, switch",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("repository", metavar="NS/REPO", help="<namespace>/<name>")
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--accept-differences",
        action="store_true",
        help="switch even when the comparison differs (accepts a waiting re-index)",
    )
    what.add_argument("--abandon", action="store_true", help="abandon the unfinished re-index")
    parser.add_argument(
        "--url",
        default=os.environ.get("GITSTORE_API_URL", DEFAULT_API_URL),
        help=f"API base URL (GITSTORE_API_URL, else {DEFAULT_API_URL})",
    )
    parser.add_argument("--token", help="a maintainer's token (default: GITSTORE_TOKEN)")
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds to wait for the worker (3600)"
    )
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls (0.5)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("GITSTORE_TOKEN", "")
    if not token:
        raise InvalidArgument("give --token TOKEN or set GITSTORE_TOKEN (a maintainer's token)")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    repo = args.repository
    with GraphQLClient(args.url, token=token, timeout=60.0) as client:

        def state() -> dict[str, Any] | None:
            value: dict[str, Any] | None = client.execute(STATE, {"r": repo})["shadowReindex"]
            return value

        def mutate(name: str, **fields: Any) -> str:
            query = MUTATION.replace("{Name}", name[:1].upper() + name[1:]).replace("{name}", name)
            payload = client.execute(query, {"input": {"repository": repo, **fields}})[name]
            raise_user_errors(payload, f"cannot {name} of {repo}")
            return str(payload["id"])

        stored = state()
        waiting = stored is not None and stored.get("state") not in TERMINAL
        if args.abandon:
            if not waiting or stored is None:
                raise FailedPrecondition(f"{repo} has no unfinished re-index", field="repository")
            rid = mutate("abandonShadowReindex", id=stored["id"])
        elif args.accept_differences and stored is not None and stored.get("state") == DIFFERENT:
            rid = mutate("acceptShadowReindex", id=stored["id"])
        else:
            rid = mutate("startShadowReindex", acceptDifferences=args.accept_differences)
        sys.stderr.write(f"re-index {rid} of {repo} requested\n")
        final = _follow(state, rid, args)
    print(describe(repo, final))
    outcome = final.get("state")
    if outcome == SWITCHED or (outcome == ABANDONED and args.abandon):
        return 0
    return 2 if outcome == DIFFERENT else 1


def _follow(state: Any, rid: str, args: argparse.Namespace) -> dict[str, Any]:
    """Poll until the worker is done with ``rid`` (switched, stopped on differences, …)."""
    tty = sys.stderr.isatty()
    deadline = time.monotonic() + args.timeout
    last = ""
    while True:
        now = state()
        if now is not None and now.get("id") == rid:
            line = _progress(now)
            if tty:
                sys.stderr.write("\r\x1b[K" + line)
            elif line != last:
                sys.stderr.write(line + "\n")
            sys.stderr.flush()
            last = line
            if now.get("state") in (*TERMINAL, DIFFERENT) and (
                now.get("state") != DIFFERENT or not args.accept_differences or args.abandon
            ):
                if tty:
                    sys.stderr.write("\n")
                return dict(now)
        if time.monotonic() > deadline:
            raise FailedPrecondition(
                f"re-index {rid} not done after {args.timeout:.0f} s (is a worker running?); "
                "it goes on: run the command again to follow it",
                field="timeout",
            )
        time.sleep(args.poll)


def _progress(value: dict[str, Any]) -> str:
    parts = [str(value.get("state"))]
    for view, counts in (value.get("progress") or {}).items():
        if any(counts.values()):
            parts.append(f"{view}: " + ", ".join(f"{n:,} {k}" for k, n in counts.items() if n))
    return "  ".join(parts)


def describe(repo: str, value: dict[str, Any]) -> str:
    """The comparison, per view, in lines."""
    lines = [f"{repo}: re-index {value.get('id')} {value.get('state')}"]
    if value.get("message") and value.get("state") != SWITCHED:
        lines.append(f"  {value['message']}")
    for view, outcome in (value.get("views") or {}).items():
        c = outcome["comparison"]
        verdict = "equal" if c["equal"] else f"{c['differing']:,} document(s) differ"
        lines.append(f"  {view} at {outcome['commit'][:12]}: {verdict}")
        for what in ("counts", "indexes"):
            for key, sides in c[what].items():
                mark = "" if sides["live"] == sides["shadow"] else "  *"
                lines.append(f"    {key:<28} {sides['live']:>9,} -> {sides['shadow']:>9,}{mark}")
        for example in c["sample"]:
            detail = ""
            if example["change"] == "changed":
                fields = ", ".join(example.get("fields") or []) or "-"
                indexes = ", ".join(
                    f"{name}: {v['live']} -> {v['shadow']}"
                    for name, v in (example.get("indexes") or {}).items()
                )
                detail = f" fields: {fields}" + (f"; indexes {indexes}" if indexes else "")
            lines.append(f"    {example['change']} {example['kind']}/{example['name']}{detail}")
    return "\n".join(lines)
