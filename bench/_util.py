"""Small helpers shared by the benchmarks: percentiles, timing, progress on a terminal.

Progress goes to stderr and only when stderr is a terminal, so piping a benchmark into a
file leaves just its report on stdout (whose last line is the JSON figures).
"""

from __future__ import annotations

import http.client
import math
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (``fraction`` in [0, 1]) of ``samples``."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(samples_ms: Sequence[float]) -> dict[str, float | int]:
    return {
        "n": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 0.50), 3),
        "p99_ms": round(percentile(samples_ms, 0.99), 3),
        "min_ms": round(min(samples_ms), 3),
        "max_ms": round(max(samples_ms), 3),
    }


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


class Progress:
    """``label: done/total`` on one rewritten stderr line, when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r\x1b[K{self.label}: {done}/{total}{end}")
        sys.stderr.flush()


def healthy(port: int) -> bool:
    """``GET /healthz`` on 127.0.0.1:``port`` answers 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_hooks() -> Path | None:
    """``make hooks`` (the example WASI hooks, docs/conversion.md); ``build/hooks``, or None
    after printing why it failed to stderr."""
    built = subprocess.run(["make", "-s", "hooks"], cwd=ROOT, capture_output=True, text=True)
    if built.returncode != 0:
        print(f"make hooks failed:\n{built.stderr}", file=sys.stderr)
        return None
    return ROOT / "build" / "hooks"
