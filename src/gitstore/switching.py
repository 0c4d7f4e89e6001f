"""A short GIL switch interval while CPU-bound work runs in a worker thread.

A candidate store schema's build, preparing documents for a new schema
(``StoreSchemas._warm``), the write path's name check (``check``) and its registry of a
request's own definitions, and a commit's kind registry (``git.kinds.KindsLoader``, for the
API and the worker alike) are CPU-bound Python in a worker thread. It lives at the top of
the package (not in ``api``) because ``git.kinds`` serves the worker too. With CPython's
default switch interval (5 ms) every request in flight waits up to 5 ms at each of its await
points for such a thread to yield the GIL; ``short_switches`` lowers it to
``BUILD_SWITCH_INTERVAL`` meanwhile (``sys.setswitchinterval`` is per process; the saved
value is restored after the last concurrent user).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

BUILD_SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005

_switching = threading.Lock()
_switch_users = 0
_switch_saved = 0.005


@contextlib.contextmanager
def short_switches() -> Iterator[None]:
    global _switch_users, _switch_saved
    with _switching:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, BUILD_SWITCH_INTERVAL))
        _switch_users += 1
    try:
        yield
    finally:
        with _switching:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)
