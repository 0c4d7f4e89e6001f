"""The hook scripts git runs, and the local socket they report to.

At start the git service makes a private directory (``mkdtemp``, mode 0700, short path so
the Unix socket name fits in 108 bytes) holding:

* ``hook.py``: a stdlib-only script (run with the service's own interpreter, ``-S -E``: no
  site packages, no ``PYTHON*`` environment, ~20 ms to start);
* ``pre-receive`` and ``post-receive``: two-line ``sh`` wrappers that ``exec`` it;
* ``empty/``: a hooks directory with nothing in it (for upload-pack);
* ``hooks.sock``: the Unix socket ``HookSocket`` serves.

receive-pack runs with ``-c core.hooksPath=<dir>``, so only these run. A hook reads git's
stdin (``<old> <new> <ref>`` lines), sends one JSON line to the socket — the hook name, the
push token from ``GITSTORE_PUSH_TOKEN``, the updates, and ``GIT_QUARANTINE_PATH`` /
``GIT_OBJECT_DIRECTORY`` / ``GIT_ALTERNATE_OBJECT_DIRECTORIES`` — and gets one JSON line back:
``{"allowed": bool, "messages": [...]}``. It prints the messages to stderr (git relays them
to the client as ``remote: …``) and exits 0 when allowed, 1 otherwise (post-receive always
exits 0: the refs are already updated). The token is random per push and only valid while
the push runs, so a hook can only speak for the push git started it for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socketserver
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOCKET_NAME = "hooks.sock"
TOKEN_ENV = "GITSTORE_PUSH_TOKEN"  # noqa: S105 - a variable name, not a secret
SOCKET_ENV = "GITSTORE_HOOK_SOCKET"
HOOK_NAMES = ("pre-receive", "post-receive")
MAX_REQUEST_BYTES = 64 * 1024 * 1024

HOOK_SCRIPT = r'''"""GitStore git hook: forwards to the git service's hook socket (stdlib only)."""
import json
import os
import socket
import sys


def main() -> int:
    hook = sys.argv[1]
    lines = sys.stdin.buffer.read().decode("utf-8", "replace").splitlines()
    request = {
        "hook": hook,
        "token": os.environ.get("GITSTORE_PUSH_TOKEN", ""),
        "updates": [line.split(" ", 2) for line in lines if line.strip()],
        "quarantine": os.environ.get("GIT_QUARANTINE_PATH", ""),
        "object_directory": os.environ.get("GIT_OBJECT_DIRECTORY", ""),
        "alternates": os.environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", ""),
        "push_options": [
            os.environ.get("GIT_PUSH_OPTION_%d" % i, "")
            for i in range(min(int(os.environ.get("GIT_PUSH_OPTION_COUNT") or 0), 100))
        ],
    }
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(os.environ["GITSTORE_HOOK_SOCKET"])
        sock.sendall(json.dumps(request).encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        answer = json.loads(data.decode() or "{}")
    except (OSError, KeyError, ValueError) as exc:
        sys.stderr.write("push refused: the git service's hook socket failed (%s)\n" % exc)
        return 1 if hook == "pre-receive" else 0
    for line in answer.get("messages", []):
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
    if hook != "pre-receive":
        return 0
    return 0 if answer.get("allowed") else 1


sys.exit(main())
'''

WRAPPER = '#!/bin/sh\nexec "{python}" -S -E "{script}" {hook}\n'

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def install(directory: Path) -> None:
    """Write ``hook.py``, the wrappers and ``empty/`` into ``directory``."""
    script = directory / "hook.py"
    script.write_text(HOOK_SCRIPT)
    for hook in HOOK_NAMES:
        path = directory / hook
        path.write_text(WRAPPER.format(python=sys.executable, script=script, hook=hook))
        path.chmod(0o700)
    (directory / "empty").mkdir(exist_ok=True)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    handler: Handler


class _Connection(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST_BYTES)
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("not an object")
            answer = self.server.handler(request)
        except Exception:
            log.exception("hook request failed")
            answer = {"allowed": False, "messages": ["push refused: internal error in the hook"]}
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(answer).encode() + b"\n")


class HookSocket:
    """The hook directory plus a thread serving its socket with ``handler(request)``."""

    def __init__(self, handler: Handler, base: Path | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="gitstore-hooks-", dir=base))
        os.chmod(self.directory, 0o700)
        install(self.directory)
        self.socket_path = self.directory / SOCKET_NAME
        self._server = _Server(str(self.socket_path), _Connection)
        self._server.handler = handler
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="git-hooks", daemon=True
        )
        self._thread.start()

    @property
    def empty_directory(self) -> Path:
        return self.directory / "empty"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)
