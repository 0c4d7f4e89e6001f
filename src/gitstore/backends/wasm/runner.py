"""Running conversion hooks under wasmtime: one sandboxed instance per batch.

``WasmHookRunner.convert`` implements ``domain.conversion.HookRunner``. For each request it
gets the compiled module from the ``ModuleCache`` (refusing bytes that do not match the
declared sha256), cuts the documents into JSON Lines batches (``encode_batches``) and runs one
fresh instance per batch in a fresh ``Store``, so nothing a hook does survives into the next
run and a hook that misbehaves leaves the runner as healthy as before.

The sandbox. WASI preview 1 with ``argv`` only: no environment variables, no preopened
directories (every ``open`` fails with ENOTCAPABLE/ENOENT), no sockets, and the clocks and
random numbers WASI always has. stdin is the batch (a private temporary file: wasmtime reads
stdin only from a file); stdout and stderr are callbacks into bounded buffers — stdout may
hold ``limits.output_limit(batch bytes)`` and a hook writing more fails (``output``), stderr
keeps its first ``limits.stderr_bytes`` for error messages and drops the rest.

Limits per instance (``HookLimits``, scaled to the batch):
  * fuel (``Config.consume_fuel``): roughly one unit per wasm instruction; running out is a
    trap with code OUT_OF_FUEL -> ``HookFailed("fuel")``, deterministic;
  * memory (``Store.set_limits``): ``memory.grow`` past the cap returns -1, so malloc fails
    and the hook usually aborts or exits; a trap or non-zero exit with linear memory near the
    cap is reported as ``HookFailed("memory")``;
  * wall clock (``Config.epoch_interruption``): one ticker thread per runner increments the
    engine's epoch every ``tick_s``; each store's deadline is ``ceil(timeout / tick_s)``
    ticks, and passing it is a trap with code INTERRUPT -> ``HookTimedOut`` (retryable).

Counters: ``requests`` (``convert`` calls), ``instances`` (wasm instances started: one per
batch) and ``documents`` (sent to them) only go up; they show that many documents share few
instances (a release of 10,000 spoke resources starts ~10, not 10,000).

All or nothing: the converted documents of every batch are collected and returned only when
every batch succeeded; the first failure raises and the rest is discarded.

Thread safety: one ``Engine`` and module cache shared by all threads (wasmtime's engine and
modules are thread-safe), a ``Linker`` per thread, a ``Store`` per run. Blocking callers use
``convert``; asyncio callers use ``AsyncHookRunner`` (``pool.py``).
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import wasmtime

from gitstore.backends.wasm.cache import ModuleCache
from gitstore.domain.conversion import (
    Batch,
    ConversionRequest,
    HookContext,
    HookFailed,
    HookLimits,
    HookTimedOut,
    decode_batch_output,
    encode_batches,
)
from gitstore.domain.conversion.errors import stderr_lines
from gitstore.domain.errors import InvalidArgument

MIB = 1024 * 1024


class _Capped:
    """A write callback into a buffer of at most ``limit`` bytes."""

    def __init__(self, limit: int, *, strict: bool) -> None:
        self.limit = limit
        self.strict = strict  # over the limit: fail the write (stdout) or drop it (stderr)
        self.parts: list[bytes] = []
        self.size = 0
        self.overflow = False

    def write(self, data: bytes) -> int:
        room = self.limit - self.size
        if len(data) > room:
            self.overflow = True
            if room > 0:
                self.parts.append(data[:room])
                self.size += room
            return -errno.EFBIG if self.strict else len(data)
        self.parts.append(data)
        self.size += len(data)
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


class _Ticker:
    """Increments the engine's epoch every ``tick_s`` seconds, until stopped."""

    def __init__(self, engine: wasmtime.Engine, tick_s: float) -> None:
        self._engine = engine
        self._tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wasm-epoch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            self._engine.increment_epoch()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class WasmHookRunner:
    """Runs conversion hooks with wasmtime (see the module docstring); ``close()`` when done."""

    def __init__(
        self,
        limits: HookLimits | None = None,
        *,
        cache_capacity: int = 32,
        cache_dir: Path | None = None,
        tick_s: float = 0.01,
    ) -> None:
        self.limits = limits or HookLimits()
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        self.engine = wasmtime.Engine(config)
        self.modules = ModuleCache(self.engine, cache_capacity, cache_dir)
        self._tick_s = tick_s
        self._local = threading.local()
        self._scratch = Path(tempfile.mkdtemp(prefix="gitstore-wasm-"))
        self._ticker = _Ticker(self.engine, tick_s)
        self._closed = False
        # Counters (monotonic, for metrics and tests): ``convert`` calls, wasm instances
        # started (one per batch) and documents sent to them.
        self.requests = 0
        self.instances = 0
        self.documents = 0
        self._counting = threading.Lock()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._ticker.stop()
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> WasmHookRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def convert(self, request: ConversionRequest, module: bytes) -> list[dict[str, Any]]:
        """Every document converted, or a hook error (``domain.conversion.errors``)."""
        if self._closed:
            raise RuntimeError("WasmHookRunner is closed")
        compiled = self.modules.get(request.hook, module)
        try:
            batches = list(encode_batches(request.documents, self.limits))
        except (TypeError, ValueError) as error:
            raise InvalidArgument(f"a document is not plain JSON data: {error}") from None
        with self._counting:
            self.requests += 1
        converted: list[dict[str, Any]] = []
        for batch in batches:
            with self._counting:
                self.instances += 1
                self.documents += batch.count
            converted.extend(self._run(compiled, request, batch))
        return converted

    def _linker(self) -> wasmtime.Linker:
        linker: wasmtime.Linker | None = getattr(self._local, "linker", None)
        if linker is None:
            linker = wasmtime.Linker(self.engine)
            linker.define_wasi()
            self._local.linker = linker
        return linker

    def _run(
        self, compiled: wasmtime.Module, request: ConversionRequest, batch: Batch
    ) -> list[dict[str, Any]]:
        limits = self.limits
        context = request.context
        size = len(batch.payload)
        out = _Capped(limits.output_limit(size), strict=True)
        err = _Capped(limits.stderr_bytes, strict=False)
        fd, stdin_path = tempfile.mkstemp(dir=self._scratch, suffix=".jsonl")
        store = wasmtime.Store(self.engine)
        try:
            with os.fdopen(fd, "wb") as stdin:
                stdin.write(batch.payload)
            wasi = wasmtime.WasiConfig()
            wasi.argv = request.argv
            wasi.stdin_file = stdin_path
            wasi.stdout_custom = out.write
            wasi.stderr_custom = err.write
            store.set_wasi(wasi)
            store.set_limits(memory_size=limits.memory_bytes, instances=4, memories=4, tables=4)
            fuel = limits.fuel_for(batch.count, size)
            timeout = limits.timeout_for(batch.count, size)
            store.set_fuel(fuel)
            store.set_epoch_deadline(max(1, math.ceil(timeout / self._tick_s)))
            instance: wasmtime.Instance | None = None
            failure: BaseException | None = None
            try:
                instance = self._linker().instantiate(store, compiled)
                start = instance.exports(store)["_start"]
                assert isinstance(start, wasmtime.Func)
                start(store)
            except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
                failure = error
            stderr = stderr_lines(err.value())
            if out.overflow:  # first: a flood ends in a trap or exit, but the cause is output
                raise HookFailed(
                    "output",
                    context,
                    f"wrote more than {out.limit:,} bytes to stdout for {size:,} bytes of input",
                    stderr,
                )
            if isinstance(failure, wasmtime.ExitTrap):
                if failure.code != 0:
                    raise self._failure(
                        "exit", f"exited with code {failure.code}", context, store, instance, stderr
                    )
            elif isinstance(failure, wasmtime.Trap):
                code = failure.trap_code
                if code is wasmtime.TrapCode.OUT_OF_FUEL:
                    raise HookFailed(
                        "fuel",
                        context,
                        f"ran out of fuel ({fuel:,} units for {batch.count} documents, "
                        f"{size:,} bytes)",
                        stderr,
                    )
                if code is wasmtime.TrapCode.INTERRUPT:
                    raise HookTimedOut(
                        "timeout",
                        context,
                        f"did not finish within its wall-clock deadline of {timeout:.1f} s "
                        f"({batch.count} documents)",
                        stderr,
                    )
                detail = f"trapped: {_last_line(failure.message)}"
                raise self._failure("trap", detail, context, store, instance, stderr)
            elif failure is not None:
                detail = f"failed: {_last_line(str(failure))}"
                raise self._failure("trap", detail, context, store, instance, stderr)
        finally:
            store.close()  # now, on this thread: frees the instance and its WASI callbacks
            os.unlink(stdin_path)
        return decode_batch_output(out.value(), batch.count, context, stderr)

    def _failure(
        self,
        reason: str,
        detail: str,
        context: HookContext,
        store: wasmtime.Store,
        instance: wasmtime.Instance | None,
        stderr: list[str],
    ) -> HookFailed:
        """A trap or failed exit; reported as ``memory`` when linear memory is near the cap."""
        limit = self.limits.memory_bytes
        used = _memory_used(store, instance)
        if used is not None and used >= limit - max(limit // 8, 2 * MIB):
            reason = "memory"
            detail += (
                f"; out of memory (linear memory {used / MIB:.0f} MiB of {limit / MIB:.0f} MiB)"
            )
        return HookFailed(reason, context, detail, stderr)


def _memory_used(store: wasmtime.Store, instance: wasmtime.Instance | None) -> int | None:
    if instance is None:
        return None
    try:
        memory = instance.exports(store)["memory"]
    except (KeyError, wasmtime.WasmtimeError):
        return None
    return memory.data_len(store) if isinstance(memory, wasmtime.Memory) else None


def _last_line(text: str) -> str:
    """The cause of a wasmtime error: its last non-blank line (earlier ones are a backtrace)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no message"
