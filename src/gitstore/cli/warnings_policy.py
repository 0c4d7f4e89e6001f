"""What the ``gitstore`` command does with Python warnings.

A user of the CLI cannot act on a deprecation inside a library we depend on (asyncssh naming
DSA types that cryptography deprecates was ten lines on every command), so warnings of
third-party code never reach the terminal: they go to the ``py.warnings`` logger at DEBUG
(``--log-level debug`` shows them). Warnings of gitstore's own code are logged as warnings.
Whoever runs Python with ``-W`` or ``PYTHONWARNINGS`` gets exactly what they asked for.

This is applied by ``gitstore.cli.main.main`` before any subcommand module (and so any
third-party library) is imported; it never runs on import, so tests keep their own filters.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import TextIO

import gitstore

_OWN_DIR = os.path.dirname(os.path.abspath(gitstore.__file__)) + os.sep
_log = logging.getLogger("py.warnings")


def _show(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
    own = os.path.abspath(filename).startswith(_OWN_DIR)
    _log.log(logging.WARNING if own else logging.DEBUG, "%s", text)


def install() -> bool:
    """Route warnings to logging; False (and nothing changed) if the user set their own."""
    if sys.warnoptions:
        return False
    warnings.resetwarnings()
    warnings.simplefilter("default")
    warnings.showwarning = _show
    return True
