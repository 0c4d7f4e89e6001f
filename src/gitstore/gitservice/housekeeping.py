"""Repository housekeeping: repack, prune, commit-graph and bitmaps (like Gitaly's
``OptimizeRepository``), decided by heuristics and run with the ``git`` binary.

What runs (``plan`` decides from ``git count-objects -v`` and the repository's
``gitstore-housekeeping.json``, which records when the last full repack and prune ran):

* **geometric repack** — ``git repack -d --geometric=2``: loose objects (reachable or not)
  and the small packs are rolled into one new pack so that pack sizes stay a geometric
  progression (at most ~log2(objects) packs). It never deletes an object: everything it
  reads goes into the new pack before the old copies are removed. Due when there are
  ``loose_objects_limit`` loose objects or more than ``max_packs`` packs.
* **full repack** — ``git repack -d --cruft -b``: everything reachable into one pack with a
  reachability bitmap, everything unreachable into a cruft pack (per-object mtimes kept), so
  nothing is deleted either. Due every ``full_repack_interval_seconds`` (when there is more
  than one pack or enough loose objects) or at ``2 * max_packs`` packs.
  The first full repack of a repository holding ``big_pack_objects`` packed objects or more
  (a big first push or import, packed as its client chose) also recomputes every delta
  (``-f``, ``Plan.fresh_deltas``): cutting a client's chains to ``pack_depth`` while reusing
  its deltas leaves them poor (``git fast-import`` deltas each blob against whatever came
  before), and every later read pays for them — on the 100,000-product benchmark catalogue
  the pack shrinks from 36.6 to 24.4 MB and a blob read by the git service (``GetBlobBatches``)
  from ~42 to ~19 µs, for ~5 s of repack once.
* **prune** — the same full repack with ``--cruft-expiration=<grace>`` (objects unreachable
  and not written or freshened for ``prune_grace_seconds`` are dropped), then ``git prune
  --expire=<grace>`` (expired loose objects and ``tmp_*`` leftovers of killed processes).
  Due every ``prune_interval_seconds``; the clock starts when housekeeping first sees the
  repository.
* **commit-graph** — ``git commit-graph write --reachable`` (one file, replaced atomically;
  libgit2 reads the single-file form) after any repack, or when it is missing.

Locking. One optimisation per repository at a time, across processes: a non-blocking
``flock`` on ``gitstore-housekeeping.lock``; a second caller gets ``skipped``. The geometric
and full repacks run *beside* the repository's write lock: they delete no object, git's
repack is safe with concurrent ref updates and object writes, and readers (libgit2 re-scans
``objects/pack`` when an object is missing from the packs it knows) see the new packs. The
prune deletes objects, and an in-flight ``CommitFiles`` may just have reused an old
unreachable object (libgit2 "freshens" it by touching its pack, which git's cruft packs
ignore) before moving its branch; so the prune holds the repository's write lock (all
gitstore processes: the in-process lock and the file lock) for its duration: commits of that
repository wait, as they would for one large commit. A push's quarantine
(``objects/tmp_objdir-incoming-*``, written by git receive-pack; see ``transport``) is not
touched by repack, but ``git prune`` removes ``tmp_*`` entries older than its expiry, and a
push may base its thin pack on objects it was advertised: while a push of this repository
runs in this process, or a quarantine younger than a day exists, the prune is put off (the
full repack still runs, keeping everything).

Multi-pack indexes are not written: libgit2 trusts a stale one and fails to read an object
whose pack a repack deleted; with plain packs it re-scans and finds the object's new pack.
Bitmaps therefore come from full repacks (one pack).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitstore.config import HousekeepingSettings
from gitstore.domain.identity import RepositoryId
from gitstore.gitservice.locks import try_flock
from gitstore.gitservice.storage import RepositoryStore

log = logging.getLogger(__name__)

LOCK_FILE = "gitstore-housekeeping.lock"
STATE_FILE = "gitstore-housekeeping.json"
QUARANTINE_PREFIX = "tmp_objdir-incoming-"
QUARANTINE_MAX_AGE = 86_400.0

GEOMETRIC = "geometric-repack"
FULL = "full-repack"
PRUNE = "prune"
COMMIT_GRAPH = "commit-graph"


@dataclass(frozen=True, slots=True)
class Stats:
    """``git count-objects -v`` in objects and bytes, plus commit-graph and bitmap presence."""

    loose_objects: int = 0
    loose_bytes: int = 0
    packed_objects: int = 0
    packs: int = 0
    pack_bytes: int = 0
    garbage_files: int = 0
    garbage_bytes: int = 0
    has_commit_graph: bool = False
    has_bitmap: bool = False

    @property
    def total_bytes(self) -> int:
        return self.loose_bytes + self.pack_bytes + self.garbage_bytes


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[str, ...]
    reason: str
    fresh_deltas: bool = False  # the full repack recomputes every delta (``-f``)


@dataclass(slots=True)
class State:
    """When housekeeping first saw the repository and last ran a full repack / prune."""

    first_seen: float = 0.0
    last_full: float = 0.0
    last_prune: float = 0.0


@dataclass(slots=True)
class Report:
    before: Stats
    after: Stats
    actions: list[str] = field(default_factory=list)
    reason: str = ""
    seconds: float = 0.0
    skipped: bool = False


class HousekeepingFailed(Exception):
    """A git housekeeping command failed (its stderr is in the log)."""


# ---------------------------------------------------------------------- measuring


def git_env() -> dict[str, str]:
    """The environment of housekeeping's git: no auto-gc, no user or system config."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "gc.auto",
        "GIT_CONFIG_VALUE_0": "0",
    }


def run_git(path: Path, *args: str, timeout: float = 3600.0) -> str:
    argv = ["git", "--git-dir", str(path), *args]
    try:
        done = subprocess.run(
            argv, env=git_env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise HousekeepingFailed(f"git {args[0]} timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        log.error("git %s failed in %s: %s", " ".join(args), path, done.stderr.strip())
        raise HousekeepingFailed(f"git {args[0]} failed with exit code {done.returncode}")
    return done.stdout


def measure(path: Path) -> Stats:
    """Statistics of the bare repository at ``path`` (``git count-objects -v``)."""
    values: dict[str, int] = {}
    for line in run_git(path, "count-objects", "-v").splitlines():
        key, _, value = line.partition(":")
        with contextlib.suppress(ValueError):
            values[key.strip()] = int(value.strip())
    info, packs = path / "objects" / "info", path / "objects" / "pack"
    has_graph = (info / "commit-graph").exists() or (info / "commit-graphs").is_dir()
    has_bitmap = any(packs.glob("*.bitmap")) if packs.is_dir() else False
    return Stats(
        loose_objects=values.get("count", 0),
        loose_bytes=values.get("size", 0) * 1024,
        packed_objects=values.get("in-pack", 0),
        packs=values.get("packs", 0),
        pack_bytes=values.get("size-pack", 0) * 1024,
        garbage_files=values.get("garbage", 0),
        garbage_bytes=values.get("size-garbage", 0) * 1024,
        has_commit_graph=has_graph,
        has_bitmap=has_bitmap,
    )


def load_state(path: Path) -> State:
    try:
        raw = json.loads((path / STATE_FILE).read_text())
        return State(float(raw["first_seen"]), float(raw["last_full"]), float(raw["last_prune"]))
    except (OSError, ValueError, KeyError, TypeError):
        return State()


def save_state(path: Path, state: State) -> None:
    tmp = path / f"{STATE_FILE}.tmp"
    data = {"first_seen": state.first_seen, "last_full": state.last_full}
    data["last_prune"] = state.last_prune
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path / STATE_FILE)


def young_quarantines(path: Path, now: float) -> bool:
    """Whether a push quarantine (git receive-pack's ``tmp_objdir-incoming-*``) less than a
    day old exists: a push may be running in some process."""
    try:
        entries = list(os.scandir(path / "objects"))
    except FileNotFoundError:
        return False
    for entry in entries:
        if entry.name.startswith(QUARANTINE_PREFIX):
            with contextlib.suppress(OSError):
                if now - entry.stat(follow_symlinks=False).st_mtime < QUARANTINE_MAX_AGE:
                    return True
    return False


# ---------------------------------------------------------------------- deciding


def plan(
    stats: Stats,
    state: State,
    settings: HousekeepingSettings,
    *,
    now: float,
    eager: bool = False,
    push_running: bool = False,
) -> Plan:
    """What to run now, and why (pure: no I/O)."""
    has_objects = stats.loose_objects + stats.packed_objects > 0
    if eager:
        if not has_objects:
            return Plan((), "empty repository")
        if push_running:
            return Plan((FULL, COMMIT_GRAPH), "eager; prune put off: a push is running")
        return Plan((PRUNE, COMMIT_GRAPH), "eager")
    since_prune = now - (state.last_prune or state.first_seen or now)
    since_full = now - state.last_full
    something = stats.packs > 1 or stats.loose_objects >= settings.loose_objects_limit
    reasons: list[str] = []
    repack: str | None = None
    if has_objects and since_prune >= settings.prune_interval_seconds:
        if push_running:
            reasons.append("prune due but put off: a push is running")
        else:
            repack = PRUNE
            reasons.append(f"last prune {since_prune:.0f} s ago")
    fresh = False
    if repack is None and not state.last_full and stats.packed_objects >= settings.big_pack_objects:
        repack, fresh = FULL, True
        reasons.append(
            f"{stats.packed_objects} packed objects never fully repacked here "
            f"(deltas recomputed, chains cut to {settings.pack_depth})"
        )
    if repack is None and stats.packs >= 2 * settings.max_packs:
        repack = FULL
        reasons.append(f"{stats.packs} packs >= {2 * settings.max_packs}")
    if repack is None and something and since_full >= settings.full_repack_interval_seconds:
        repack = FULL
        reasons.append(f"last full repack {since_full:.0f} s ago")
    if repack is None and stats.loose_objects >= settings.loose_objects_limit:
        repack = GEOMETRIC
        reasons.append(f"{stats.loose_objects} loose objects >= {settings.loose_objects_limit}")
    if repack is None and stats.packs > settings.max_packs:
        repack = GEOMETRIC
        reasons.append(f"{stats.packs} packs > {settings.max_packs}")
    actions = [repack] if repack else []
    if repack or (has_objects and not stats.has_commit_graph):
        actions.append(COMMIT_GRAPH)
        if not repack:
            reasons.append("no commit-graph")
    return Plan(tuple(actions), "; ".join(reasons) or "nothing due", fresh)


# ---------------------------------------------------------------------- running


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """The repository's housekeeping lock if free (True), else False; never waits."""
    fd = try_flock(path / LOCK_FILE)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def _expiration(seconds: float) -> str:
    return f"{int(seconds)}.seconds.ago" if seconds > 0 else "now"


class Housekeeper:
    """Runs ``OptimizeRepository`` on a store's repositories (thread-safe)."""

    def __init__(
        self,
        store: RepositoryStore,
        settings: HousekeepingSettings,
        *,
        push_running: Callable[[RepositoryId], bool] | None = None,
        observe: Callable[[Report], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self._push_running = push_running or (lambda _repo_id: False)
        self._observe = observe

    def optimize(self, repo_id: RepositoryId, *, eager: bool = False) -> Report:
        self.store.info(repo_id)  # NotFound for an unknown repository
        path = self.store.locate(repo_id)
        started = time.monotonic()
        with _exclusive(path) as mine:
            before = measure(path)
            if not mine:
                return Report(
                    before, before, reason="another optimisation is running", skipped=True
                )
            now = time.time()
            state = load_state(path)
            if not state.first_seen:
                state.first_seen = now
            pushing = self._push_running(repo_id) or young_quarantines(path, now)
            decided = plan(before, state, self.settings, now=now, eager=eager, push_running=pushing)
            for action in decided.actions:
                self._run(repo_id, path, action, fresh_deltas=decided.fresh_deltas)
                if action in (FULL, PRUNE):
                    state.last_full = now
                if action == PRUNE:
                    state.last_prune = now
            save_state(path, state)
            if any(a in (GEOMETRIC, FULL, PRUNE) for a in decided.actions):
                self.store.drop_idle_handles(repo_id)  # let go of deleted packs' files
            after = measure(path) if decided.actions else before
        report = Report(
            before, after, list(decided.actions), decided.reason, time.monotonic() - started
        )
        if decided.actions:
            log.info(
                "optimized %s in %.2f s: %s (%s); %d -> %d bytes, %d -> %d packs, %d -> %d loose",
                repo_id, report.seconds, ", ".join(report.actions), report.reason,
                before.total_bytes, after.total_bytes, before.packs, after.packs,
                before.loose_objects, after.loose_objects,
            )  # fmt: skip
        if self._observe is not None:
            self._observe(report)
        return report

    def _run(
        self, repo_id: RepositoryId, path: Path, action: str, *, fresh_deltas: bool = False
    ) -> None:
        timeout = self.settings.command_timeout_seconds
        depth = f"--depth={self.settings.pack_depth}"
        if action == GEOMETRIC:
            run_git(path, "repack", "-d", "-q", "--geometric=2", depth, timeout=timeout)
        elif action == FULL:
            fresh = ("-f",) if fresh_deltas else ()
            run_git(path, "repack", "-d", "-q", "--cruft", "-b", *fresh, depth, timeout=timeout)
        elif action == PRUNE:
            expire = _expiration(self.settings.prune_grace_seconds)
            with self.store.write(repo_id):  # no commit may reuse an object while we drop some
                run_git(
                    path, "repack", "-d", "-q", "--cruft", "-b", f"--cruft-expiration={expire}",
                    depth, timeout=timeout,
                )  # fmt: skip
                run_git(path, "prune", f"--expire={expire}", timeout=timeout)
        elif action == COMMIT_GRAPH:
            run_git(path, "commit-graph", "write", "--reachable", timeout=timeout)
        else:  # pragma: no cover - plan only returns the actions above
            raise ValueError(action)
