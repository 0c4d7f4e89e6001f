"""Building the example hooks (``make hooks``) for the tests that run them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.servers import missing

ROOT = Path(__file__).resolve().parents[2]
HOOKS_DIR = ROOT / "build" / "hooks"


def build_hooks() -> Path:
    """Build the example hooks (``make hooks``) and return ``build/hooks``; fails under
    CI=true and skips elsewhere without a toolchain. Other test packages call it too."""
    if shutil.which("make") is None:
        missing("make is not installed (needed to build the example hooks)")
    check = subprocess.run(
        [str(ROOT / "scripts" / "toolchain.sh"), "--check"], capture_output=True, text=True
    )
    if check.returncode != 0:
        missing(f"no WASI toolchain: {check.stderr.strip()}")
    built = subprocess.run(["make", "-s", "hooks"], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, f"make hooks failed:\n{built.stdout}\n{built.stderr}"
    return HOOKS_DIR
