"""The conversion hook contract: what a runner is asked, what a hook reads and writes.

A kind with several versions stores and projects one of them, the hub; a document in another
served version (a spoke) is converted to the hub on the way in and from the hub on the way out
by the kind's hook, a WASI preview 1 *command* module from the repository. This module is the
pure half of that contract (no wasmtime here; ``backends/wasm`` runs modules):

**Invocation.** ``argv = [module path, "to-hub" | "from-hub", fromVersion, toVersion]``; no
environment, no preopened directories (so no files), no sockets. The documents are the
``spec`` objects; the envelope (``apiVersion``, ``metadata``) is the runtime's business, so a
hook can never change a resource's identity.

**Batches, as JSON Lines.** stdin holds N documents, one compact JSON object per line (UTF-8,
``\\n``-terminated; JSON escapes newlines inside strings, so a line is a document). The hook
writes exactly N JSON objects to stdout, one per line, in the same order, and exits 0. Blank
lines at the end are ignored; anything else — text that is not JSON, a non-object, one line too
many or too few, an exit code other than 0 — fails the whole batch. Lines keep hooks simple
(a C hook streams line by line in constant memory) and let one instance convert many
documents: 10,000 resources are a handful of instances, not 10,000.

**Limits scale with the batch.** ``HookLimits`` gives each instance fuel (roughly wasm
instructions) and a wall-clock deadline of a base plus a per-document and per-byte share, a
fixed linear-memory cap, and an output cap proportional to the input. Batches are cut at
``max_batch_documents`` and ``max_batch_bytes`` so that a fixed memory cap stays sensible.

**All or nothing.** ``HookRunner.convert`` returns every converted document or raises one of
``conversion.errors``; it never returns part of a request. Callers write nothing when it raises.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from gitstore.domain.conversion.errors import HookContext, HookFailed


class Direction(StrEnum):
    TO_HUB = "to-hub"
    FROM_HUB = "from-hub"


@dataclass(frozen=True, slots=True)
class HookRef:
    """Which module converts a kind: its repository path and declared sha256 (64 hex)."""

    kind: str
    module: str
    sha256: str


@dataclass(frozen=True, slots=True)
class ConversionRequest:
    """Convert ``documents`` (spec objects in ``from_version``) to ``to_version``."""

    hook: HookRef
    direction: Direction
    from_version: str
    to_version: str
    documents: Sequence[Mapping[str, Any]]

    @property
    def context(self) -> HookContext:
        return HookContext(
            self.hook.kind, self.hook.module, self.direction.value, self.from_version,
            self.to_version,
        )  # fmt: skip

    @property
    def argv(self) -> list[str]:
        return [self.hook.module, self.direction.value, self.from_version, self.to_version]


@dataclass(frozen=True, slots=True)
class HookLimits:
    """Per-instance limits. Fuel and time scale with the batch; memory is fixed per instance.

    Defaults fit hooks that stream (the examples use well under 1 MiB) with ample room for
    hooks that read a whole batch: a batch is at most 4 MiB of input, memory 64 MiB.
    """

    fuel_base: int = 200_000_000
    fuel_per_document: int = 2_000_000
    fuel_per_byte: int = 2_000
    timeout_base_s: float = 2.0
    timeout_per_document_s: float = 0.002
    timeout_per_mib_s: float = 1.0
    memory_bytes: int = 64 * 1024 * 1024
    max_batch_documents: int = 1000
    max_batch_bytes: int = 4 * 1024 * 1024
    output_ratio: int = 8  # stdout may be this many times the input ...
    output_min_bytes: int = 1024 * 1024  # ... or this, whichever is more
    stderr_bytes: int = 8192  # kept for error messages; the rest is dropped

    def fuel_for(self, documents: int, size: int) -> int:
        return self.fuel_base + self.fuel_per_document * documents + self.fuel_per_byte * size

    def timeout_for(self, documents: int, size: int) -> float:
        return (
            self.timeout_base_s
            + self.timeout_per_document_s * documents
            + self.timeout_per_mib_s * size / (1024 * 1024)
        )

    def output_limit(self, size: int) -> int:
        return max(self.output_min_bytes, self.output_ratio * size)


class HookRunner(Protocol):
    """Runs a conversion hook; implemented by ``backends.wasm.WasmHookRunner``.

    ``module`` is the bytes of the .wasm file (the caller reads it from the repository); a
    runner refuses bytes whose sha256 is not ``request.hook.sha256``.
    """

    def convert(self, request: ConversionRequest, module: bytes) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class Batch:
    count: int
    payload: bytes  # JSON Lines: ``count`` lines


def encode_document(document: Mapping[str, Any]) -> bytes:
    """One line of a batch: compact JSON, UTF-8, no NaN/Infinity, ending in ``\\n``."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def encode_batches(documents: Sequence[Mapping[str, Any]], limits: HookLimits) -> Iterator[Batch]:
    """Cut ``documents`` into batches within ``max_batch_documents`` and ``max_batch_bytes``
    (a single document over the byte limit goes alone)."""
    lines: list[bytes] = []
    size = 0
    for document in documents:
        line = encode_document(document)
        if lines and (
            len(lines) >= limits.max_batch_documents or size + len(line) > limits.max_batch_bytes
        ):
            yield Batch(len(lines), b"".join(lines))
            lines, size = [], 0
        lines.append(line)
        size += len(line)
    if lines:
        yield Batch(len(lines), b"".join(lines))


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_TYPES[type(None)] = "null"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_batch_output(
    output: bytes, expected: int, context: HookContext, stderr: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The documents a hook printed for a batch of ``expected``; ``HookFailed`` (reason
    ``output``) naming the first line that breaks the protocol."""

    def bad(detail: str) -> HookFailed:
        return HookFailed("output", context, detail, stderr)

    try:
        text = output.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad(f"stdout is not UTF-8 (byte {error.start})") from None
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != expected:
        raise bad(f"printed {len(lines)} lines for {expected} documents (one JSON object a line)")
    out: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except ValueError as error:
            raise bad(f"line {number} is not JSON ({error}): {line[:80]!r}") from None
        if not isinstance(value, dict):
            kind = _JSON_TYPES.get(type(value), "value")
            raise bad(f"line {number} is a JSON {kind}, not an object")
        out.append(value)
    return out
