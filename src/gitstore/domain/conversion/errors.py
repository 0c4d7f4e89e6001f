"""Errors of conversion hooks, as the rest of the project sees them.

A hook is untrusted code from a repository, so every way it can fail is expected and maps to
one of three project error types (``domain/errors.py``), each carrying the same context — the
module path, the kind, the versions, the direction and the first lines of the hook's stderr:

* ``HookFailed`` (``FailedPrecondition``, permanent): the hook trapped, exited non-zero, ran
  out of fuel or memory, or printed output that breaks the protocol. Fuel counts
  instructions, so running the same input again fails the same way: don't retry, fix the hook.
* ``HookTimedOut`` (``Unavailable``, retryable): the wall-clock deadline passed. Wall-clock
  time depends on the machine's load, so the same conversion may pass later; the
  deterministic bound is fuel.
* ``HookModuleRefused`` (``InvalidArgument``, permanent): the module itself is refused before
  it runs — its bytes do not match the declared sha256, it is not valid WebAssembly, or it is
  not a WASI preview 1 command (imports outside ``wasi_snapshot_preview1``, no ``_start``).

``reason`` is a stable machine-readable word: ``trap``, ``exit``, ``fuel``, ``memory``,
``output``, ``timeout``, ``sha256``, ``invalid-module``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitstore.domain.errors import FailedPrecondition, InvalidArgument, Unavailable

STDERR_LINES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class HookContext:
    """Which hook ran, for what: every hook error names these."""

    kind: str
    module: str  # repository path of the .wasm file
    direction: str = ""  # "to-hub" | "from-hub"; empty when the module was refused unrun
    from_version: str = ""
    to_version: str = ""

    def describe(self) -> str:
        what = f"conversion hook {self.module} of kind {self.kind}"
        if self.direction:
            what += f" ({self.direction} {self.from_version} -> {self.to_version})"
        return what


class HookError:
    """The context every hook error carries (mixed into a project error type)."""

    reason: str
    context: HookContext
    stderr: tuple[str, ...]

    def _init_hook(
        self, reason: str, context: HookContext, detail: str, stderr: Sequence[str]
    ) -> str:
        self.reason = reason
        self.context = context
        self.stderr = tuple(stderr[:STDERR_LINES_SHOWN])
        message = f"{context.describe()}: {detail}"
        if self.stderr:
            message += "; its stderr: " + " | ".join(self.stderr)
        return message


class HookFailed(HookError, FailedPrecondition):
    """The hook ran and failed; the same input fails again (permanent)."""

    def __init__(
        self, reason: str, context: HookContext, detail: str, stderr: Sequence[str] = ()
    ) -> None:
        super().__init__(self._init_hook(reason, context, detail, stderr))


class HookTimedOut(HookError, Unavailable):
    """The wall-clock deadline passed (retryable: time depends on the machine's load)."""

    def __init__(
        self, reason: str, context: HookContext, detail: str, stderr: Sequence[str] = ()
    ) -> None:
        super().__init__(self._init_hook(reason, context, detail, stderr))


class HookModuleRefused(HookError, InvalidArgument):
    """The module is refused before it runs (wrong sha256, not a WASI command)."""

    def __init__(self, reason: str, context: HookContext, detail: str) -> None:
        super().__init__(self._init_hook(reason, context, detail, ()))


def stderr_lines(data: bytes) -> list[str]:
    """The first non-blank lines of a hook's stderr, decoded leniently and trimmed."""
    text = data.decode("utf-8", errors="replace")
    lines = [line.strip()[:200] for line in text.splitlines() if line.strip()]
    return lines[:STDERR_LINES_SHOWN]
