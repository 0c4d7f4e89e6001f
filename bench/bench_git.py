"""Benchmark (issue 5): git-native ingress and tag-gated publishing, one real ``gitstore serve``.

1. **Push** of a fresh 10,000-product repository over Smart HTTP (a stock ``git push`` of a
   fixture built with ``git fast-import``, PAT as the Basic password): seconds, and the part
   the pre-receive check spent validating (the API's ``remote:`` summary line "… validated
   in X s").
2. **First release** of that repository (ON_RELEASE_TAG): the tag is pushed and the clock
   runs until the storefront's ``catalog { version }`` names the tagged commit: products/s
   into the KV live channel.
3. **Next release changing 10 products** on a 100,000-product catalogue: the repository is
   given the 100,000-product fixture (``_serve.prepare_catalog``), its first release is
   published (timed, reported as setup), then per round 10 products are changed in one
   commit (``applyManifests`` with ``waitForIndex``, so the draft projection of that commit
   is not part of the figure) and ``createRelease`` tags it; the clock runs from the
   ``createRelease`` request to the storefront showing the new version. Target: < 1 s (p50
   over ``--rounds``).
4. **Clone** of the 100,000-file repository through GitStore (Smart HTTP → API → gRPC → git
   service) against ``git clone`` of the same bare repository over the local ``file://``
   protocol (the floor: the same ``git pack-objects`` work with no transport in between);
   median of 3, interleaved. Target: within 2x of the floor.

``--quick``: 2,000 products pushed and a 10,000-product catalogue (targets not judged).
Progress goes to stderr; the last stdout line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _catalog
import _products
import _serve
from _util import Progress

PUSH_REPO = "bench/pushed"
BIG_REPO = "bench/catalog"
VALIDATED = re.compile(r"validated in ([0-9.]+) ?s")

CREATE_PAT = """mutation { createAccessToken(input: {name: "bench", scopes: [READ, WRITE]})
  { secret userErrors { field message code } } }"""
CREATE_REPO = """mutation($i: CreateRepositoryInput!) { createRepository(input: $i)
  { repository { id } userErrors { field message code } } }"""
UPDATE_REPO = """mutation($i: UpdateRepositoryInput!) { updateRepository(input: $i)
  { repository { publishMode } userErrors { field message code } } }"""
CREATE_RELEASE = """mutation($i: CreateReleaseInput!) { createRelease(input: $i)
  { publication { sequence } userErrors { field message code } } }"""
APPLY = """mutation($i: ApplyManifestsInput!) { applyManifests(input: $i)
  { commit userErrors { field message code } } }"""
VERSION = """query($r: String!) { catalog(repository: $r) { version } }"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return done


def mutate(http: _serve.Http, query: str, variables: dict[str, Any], field: str) -> Any:
    payload = http.graphql(query, variables)[field]
    if payload.get("userErrors"):
        raise RuntimeError(f"{field}: {payload['userErrors']}")
    return payload


def live_version(http: _serve.Http, repository: str) -> str | None:
    version: str | None = http.graphql(VERSION, {"r": repository})["catalog"]["version"]
    return version


def wait_live(http: _serve.Http, repository: str, commit: str, timeout: float) -> float:
    """Poll the storefront until its live version is ``commit``; the monotonic time seen."""
    deadline = time.monotonic() + timeout
    while True:
        if live_version(http, repository) == commit:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{repository}: live never showed {commit} within {timeout}s")
        time.sleep(0.005)


def on_release_tag(http: _serve.Http, repository: str) -> None:
    namespace, name = repository.split("/")
    mutate(
        http,
        UPDATE_REPO,
        {"i": {"namespace": namespace, "name": name, "publishMode": "ON_RELEASE_TAG"}},
        "updateRepository",
    )


def push_phase(server: _serve.ServeProcess, http: _serve.Http, count: int) -> dict[str, Any]:
    """(1) and (2): push a fresh repository of ``count`` products, then its first release."""
    fixture = _catalog.cached_repo(count, Progress(f"fixture {count}"), layout=_products.CONTENT)
    head = git("--git-dir", str(fixture), "rev-parse", "refs/heads/main").stdout.strip()
    namespace, name = PUSH_REPO.split("/")
    mutate(
        http,
        CREATE_REPO,
        {"i": {"namespace": namespace, "name": name, "visibility": "PUBLIC"}},
        "createRepository",
    )
    on_release_tag(http, PUSH_REPO)
    secret = mutate(http, CREATE_PAT, {}, "createAccessToken")["secret"]
    url = f"http://{_serve.ADMIN}:{secret}@127.0.0.1:{server.api_port}/{PUSH_REPO}.git"
    log(f"pushing {count} products over HTTP ...")
    started = time.monotonic()
    pushed = git("--git-dir", str(fixture), "push", "--quiet", url, "main:main")
    push_seconds = time.monotonic() - started
    found = VALIDATED.search(pushed.stderr)
    validation = float(found.group(1)) if found else None
    log(f"push: {push_seconds:.2f} s (validation {validation} s); tagging v1 ...")
    started = time.monotonic()
    git("--git-dir", str(fixture), "push", "--quiet", url, f"{head}:refs/tags/v1.0.0")
    seen = wait_live(http, PUSH_REPO, head, timeout=600)
    publish_seconds = seen - started
    return {
        "push_products": count,
        "push_seconds": round(push_seconds, 3),
        "push_validation_seconds": validation,
        "first_release_seconds": round(publish_seconds, 3),
        "first_release_products_per_s": round(count / publish_seconds, 1),
    }


def release_phase(
    server: _serve.ServeProcess, token: str, rounds: int, count: int
) -> dict[str, Any]:
    """(3): releases of 10 changed products on the big catalogue."""
    http = _serve.Http(server.api_port, token)
    try:
        on_release_tag(http, BIG_REPO)
        head = git("--git-dir", str(server.repo_dir(BIG_REPO)), "rev-parse", "main").stdout.strip()
        log(f"first release of {count} products ...")
        started = time.monotonic()
        mutate(
            http,
            CREATE_RELEASE,
            {"i": {"repository": BIG_REPO, "tag": "v0.0.1", "revision": head}},
            "createRelease",
        )
        seen = wait_live(http, BIG_REPO, head, timeout=1800)
        setup = {"big_first_release_seconds": round(seen - started, 2)}
        samples: list[float] = []
        for round_ in range(1, rounds + 1):
            changed = range(round_ * 10, round_ * 10 + 10)
            manifests = [{"content": _products.product_yaml(i, round_).decode()} for i in changed]
            commit = mutate(
                http,
                APPLY,
                {"i": {"repository": BIG_REPO, "manifests": manifests, "waitForIndex": True}},
                "applyManifests",
            )["commit"]
            http.ensure_fresh()
            started = time.monotonic()
            mutate(
                http,
                CREATE_RELEASE,
                {"i": {"repository": BIG_REPO, "tag": f"v1.0.{round_}", "revision": commit}},
                "createRelease",
            )
            samples.append((wait_live(http, BIG_REPO, commit, timeout=120) - started) * 1000)
            log(f"release {round_}: {samples[-1]:.0f} ms")
    finally:
        http.close()
    return {
        **setup,
        "ten_change_release_ms_p50": round(statistics.median(samples), 1),
        "ten_change_release_ms_max": round(max(samples), 1),
        "ten_change_release_samples_ms": [round(s, 1) for s in samples],
    }


def clone_phase(server: _serve.ServeProcess, token: str, scratch: Path) -> dict[str, Any]:
    """(4): clone through GitStore vs the file:// floor, interleaved, median of 3."""
    http = _serve.Http(server.api_port, token)
    try:
        secret = mutate(http, CREATE_PAT, {}, "createAccessToken")["secret"]
    finally:
        http.close()
    url = f"http://{_serve.ADMIN}:{secret}@127.0.0.1:{server.api_port}/{BIG_REPO}.git"
    floor_url = f"file://{server.repo_dir(BIG_REPO)}"
    gitstore: list[float] = []
    floor: list[float] = []
    for attempt in range(3):
        for label, source, into in (("gitstore", url, gitstore), ("file", floor_url, floor)):
            dest = scratch / f"clone-{label}-{attempt}"
            started = time.monotonic()
            git("clone", "--quiet", "--bare", source, str(dest))
            into.append(time.monotonic() - started)
            subprocess.run(["rm", "-rf", str(dest)], check=True)
            log(f"clone via {label}: {into[-1]:.2f} s")
    ours, base = statistics.median(gitstore), statistics.median(floor)
    return {
        "clone_gitstore_seconds": round(ours, 3),
        "clone_file_floor_seconds": round(base, 3),
        "clone_ratio": round(ours / base, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big", type=int, default=0, help="catalogue size of (3) and (4)")
    parser.add_argument("--log", type=Path, help="keep the server's log (INFO) at this path")
    args = parser.parse_args()
    push_count = 2_000 if args.quick else 10_000
    big_count = args.big or (10_000 if args.quick else 100_000)
    results: dict[str, Any] = {"benchmark": "git", "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-git-") as raw:
        scratch = Path(raw)
        fixture = _catalog.cached_repo(
            big_count, Progress(f"fixture {big_count}"), layout=_products.CONTENT
        )
        env = {"GITSTORE_LOG_LEVEL": "INFO"} if args.log else {}
        server = _serve.ServeProcess(scratch, env, args=())
        try:
            token = _serve.prepare_catalog(server, fixture, BIG_REPO)
            http = _serve.Http(server.api_port, token)
            try:
                results.update(push_phase(server, http, push_count))
            finally:
                http.close()
            results.update(release_phase(server, token, args.rounds, big_count))
            results.update(clone_phase(server, token, scratch))
        except Exception:
            log(server.log_tail(60))
            raise
        finally:
            server.stop()
            if args.log:
                shutil.copy(server.log_path, args.log)
    judged = not args.quick and not args.big
    results["target_met"] = (
        {
            "ten_change_release_under_1s": results["ten_change_release_ms_p50"] < 1000,
            "clone_within_2x": results["clone_ratio"] <= 2.0,
        }
        if judged
        else None
    )
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
