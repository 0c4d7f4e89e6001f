"""Compiled hook modules, cached by sha256.

Compiling a module with Cranelift costs milliseconds to seconds; instantiating a compiled one
costs microseconds. So compiled ``wasmtime.Module``s are kept in a bounded LRU keyed by the
sha256 of their bytes (the same key a KindDefinition declares): every kind that uses the
same module shares one entry, and a changed module is a new key, never a stale hit.

With ``directory`` set, compiled code is also written there (``Module.serialize``) and read
back after a restart, skipping compilation. The file is read into memory and deserialized
from the bytes (``Module.deserialize``), not mapped (``deserialize_file``): a mapped file
changed under a live module crashes the process with SIGBUS. Deserializing runs native code
without validation, so the directory must be private to this process's user: files are only
ever written by this cache (atomic rename), and their names carry the wasmtime version so an
upgrade recompiles instead of loading incompatible code; a file that does not load (wasmtime
checks its header and engine settings) is deleted and the module recompiled.

The cache also refuses modules before anything runs: bytes whose sha256 is not the declared
one, bytes that are not WebAssembly, and modules that are not WASI preview 1 commands (an
import outside ``wasi_snapshot_preview1``, or no exported ``_start`` function).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import wasmtime

from gitstore.domain.conversion import HookContext, HookModuleRefused, HookRef

WASI_MODULE = "wasi_snapshot_preview1"


def _version() -> str:
    from importlib.metadata import version

    try:
        return version("wasmtime")
    except Exception:  # noqa: BLE001 - not installed as a distribution: never reuse files
        return "unknown"


class ModuleCache:
    """A bounded LRU of compiled modules by sha256 (thread-safe)."""

    def __init__(
        self, engine: wasmtime.Engine, capacity: int = 32, directory: Path | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._engine = engine
        self._capacity = capacity
        self._directory = directory
        self._modules: OrderedDict[str, wasmtime.Module] = OrderedDict()
        self._lock = threading.Lock()
        self._suffix = f"-wasmtime-{_version()}.cwasm"
        self.compiled = 0  # modules compiled (not found in memory or on disk): for tests/metrics
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def __len__(self) -> int:
        return len(self._modules)

    def get(self, hook: HookRef, module: bytes) -> wasmtime.Module:
        """The compiled module for ``module``, which must hash to ``hook.sha256``."""
        context = HookContext(hook.kind, hook.module)
        digest = hashlib.sha256(module).hexdigest()
        if digest != hook.sha256:
            raise HookModuleRefused(
                "sha256",
                context,
                f"its bytes have sha256 {digest}, not the declared {hook.sha256 or '(none)'}",
            )
        with self._lock:
            found = self._modules.get(digest)
            if found is not None:
                self._modules.move_to_end(digest)
                return found
        compiled = self._load(digest, module, context)
        with self._lock:
            self._modules[digest] = compiled
            self._modules.move_to_end(digest)
            while len(self._modules) > self._capacity:
                self._modules.popitem(last=False)
        return compiled

    def _load(self, digest: str, module: bytes, context: HookContext) -> wasmtime.Module:
        path = self._directory / (digest + self._suffix) if self._directory else None
        if path is not None and path.exists():
            try:
                return wasmtime.Module.deserialize(self._engine, path.read_bytes())
            except (OSError, wasmtime.WasmtimeError):
                with contextlib.suppress(OSError):
                    path.unlink()
        try:
            compiled = wasmtime.Module(self._engine, module)
        except wasmtime.WasmtimeError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
            raise HookModuleRefused(
                "invalid-module", context, f"not a valid WebAssembly module: {first}"
            ) from None
        _check_command(compiled, context)
        self.compiled += 1
        if path is not None:
            self._store(path, compiled)
        return compiled

    @staticmethod
    def _store(path: Path, compiled: wasmtime.Module) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".cwasm")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(compiled.serialize())
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _check_command(compiled: wasmtime.Module, context: HookContext) -> None:
    foreign = sorted({f"{i.module}.{i.name}" for i in compiled.imports if i.module != WASI_MODULE})
    if foreign:
        raise HookModuleRefused(
            "invalid-module",
            context,
            f"not a WASI preview 1 command: imports {', '.join(foreign[:5])} "
            f"(only {WASI_MODULE} is provided)",
        )
    starts = [e for e in compiled.exports if e.name == "_start"]
    if not any(isinstance(e.type, wasmtime.FuncType) for e in starts):
        raise HookModuleRefused(
            "invalid-module", context, "not a WASI command: it exports no _start function"
        )
