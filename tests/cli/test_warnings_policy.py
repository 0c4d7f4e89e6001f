"""The ``gitstore`` command never shows third-party warnings; its own reach the log.

The subprocess tests run the real command with the locked dependencies (asyncssh's import
warns under cryptography >= 51) and with a stand-in library that warns at import, so they
hold whatever a future lock brings.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import gitstore
from gitstore.cli import warnings_policy

GITSTORE_DIR = Path(gitstore.__file__).parent


def _run(
    code: str, *, extra_path: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"} | env
    if extra_path is not None:
        environ["PYTHONPATH"] = os.pathsep.join(
            [str(extra_path), *filter(None, [environ.get("PYTHONPATH")])]
        )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=environ
    )


def test_help_of_every_subcommand_prints_no_warning() -> None:
    # --help imports every subcommand module, and with them asyncssh, grpc, uvicorn, ...
    result = _run("from gitstore.cli.main import main; raise SystemExit(main(['--help']))")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "serve" in result.stdout


NOISY = textwrap.dedent(
    """
    import warnings
    warnings.warn("noisy_dep.old() is deprecated", DeprecationWarning, stacklevel=1)
    warnings.warn("noisy_dep: something odd", UserWarning, stacklevel=1)
    """
)

IMPORT_DURING_COMMAND = textwrap.dedent(
    """
    import importlib
    import gitstore.cli.main as m
    build = m.build_parser
    def build_with_library():
        importlib.import_module("noisy_dep")   # as a subcommand's library would be
        return build()
    m.build_parser = build_with_library
    raise SystemExit(m.main(["--version"]))
    """
)


def test_a_third_party_warning_at_import_does_not_reach_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "noisy_dep.py").write_text(NOISY)
    result = _run(IMPORT_DURING_COMMAND, extra_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"gitstore {gitstore.__version__}"
    assert result.stderr == ""


def test_python_warning_options_of_the_user_are_respected(tmp_path: Path) -> None:
    (tmp_path / "noisy_dep.py").write_text(NOISY)
    result = _run(IMPORT_DURING_COMMAND, extra_path=tmp_path, PYTHONWARNINGS="default")
    assert "noisy_dep.old() is deprecated" in result.stderr


def test_third_party_warnings_are_debug_and_own_warnings_are_warnings(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "warnoptions", [])
    with warnings.catch_warnings():
        assert warnings_policy.install()
        with caplog.at_level(logging.DEBUG, logger="py.warnings"):
            warnings.warn_explicit(
                "lib thing deprecated", DeprecationWarning, "/site-packages/lib/x.py", 3
            )
            warnings.warn_explicit(
                "our thing deprecated", DeprecationWarning, str(GITSTORE_DIR / "api" / "x.py"), 7
            )
    levels = {r.getMessage().splitlines()[0].rsplit(": ", 1)[-1]: r.levelno for r in caplog.records}
    assert levels == {
        "lib thing deprecated": logging.DEBUG,
        "our thing deprecated": logging.WARNING,
    }


def test_install_changes_nothing_when_the_user_set_warning_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "warnoptions", ["error"])
    with warnings.catch_warnings():
        before = list(warnings.filters)
        assert not warnings_policy.install()
        assert warnings.filters == before
