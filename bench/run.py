"""Run every benchmark in ``bench/`` and summarise (``make bench``).

Each ``bench/bench_*.py`` runs in turn as a subprocess of the project's Python (the
virtualenv's when there is one). Its stdout is passed through as it comes; its last line
must be one JSON object of its figures, which this runner collects. Progress a benchmark
writes to stderr goes straight to the terminal.

The exit code is non-zero when a benchmark fails to run (non-zero exit, or no JSON last
line). A missed performance target is not a failure: it shows as ``"target_met": false``
in that benchmark's JSON and in the summary.

    python bench/run.py                 # everything, full sizes
    python bench/run.py --quick         # smaller sizes: a smoke test
    python bench/run.py --only commit   # bench_commit.py only
    python bench/run.py --only writers  # bench_writers.py: 20 concurrent writers vs one
    python bench/run.py --only schema_swap  # storefront p99 during store-schema swaps
    python bench/run.py --only schema_build  # a store schema of 50 kinds x 3 versions
    python bench/run.py --only watch    # bench_watch.py: 1,000 SSE watchers, GraphQL vs plain
    python bench/run.py --only reconcile  # readiness controller on 10,000 products vs direct writes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def discover(only: str | None) -> list[Path]:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if only is None:
        return scripts
    wanted = only.removesuffix(".py").removeprefix("bench_")
    return [s for s in scripts if s.stem.removeprefix("bench_") == wanted]


def run_one(script: Path, quick: bool) -> tuple[dict[str, Any] | None, str]:
    """Run one benchmark; (its JSON figures or None, a failure reason or "")."""
    command = [python(), str(script), *(["--quick"] if quick else [])]
    last = ""
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                last = line.strip()
        code = proc.wait()
    if code != 0:
        return None, f"exit code {code}"
    try:
        figures = json.loads(last)
    except json.JSONDecodeError:
        return None, "last line of stdout is not JSON"
    if not isinstance(figures, dict):
        return None, "last line of stdout is not a JSON object"
    return figures, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks in bench/.")
    parser.add_argument("--only", metavar="NAME", help="run one benchmark (e.g. commit)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    args = parser.parse_args(argv)
    scripts = discover(args.only)
    if not scripts:
        known = ", ".join(s.stem.removeprefix("bench_") for s in discover(None))
        print(f"run.py: no benchmark named {args.only!r} (known: {known})", file=sys.stderr)
        return 2

    results: dict[str, dict[str, Any]] = {}
    for number, script in enumerate(scripts, 1):
        name = script.stem.removeprefix("bench_")
        print(f"[{number}/{len(scripts)}] {name}", file=sys.stderr, flush=True)
        started = time.monotonic()
        figures, failure = run_one(script, args.quick)
        results[name] = {
            "ok": figures is not None,
            "seconds": round(time.monotonic() - started, 1),
            "target_met": figures.get("target_met") if figures else None,
            **({"error": failure} if failure else {}),
        }

    print("\nbenchmark summary")
    for name, result in results.items():
        if not result["ok"]:
            status = f"FAILED ({result['error']})"
        elif result["target_met"] is False:
            status = "ran, target MISSED"
        else:
            status = "ran, target met" if result["target_met"] else "ran"
        print(f"  {name:20} {result['seconds']:>7.1f}s  {status}")
    failed = [name for name, result in results.items() if not result["ok"]]
    print(json.dumps({"summary": results, "ok": not failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
