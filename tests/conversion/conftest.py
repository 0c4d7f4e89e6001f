"""Fixtures for conversion hooks: the example hooks built from C with `make hooks`.

The toolchain (clang for wasm32-wasi, wasi-libc) comes from `make toolchain`; when it is
missing these tests fail under CI=true and skip elsewhere, saying what to install.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitstore.backends.wasm import WasmHookRunner
from gitstore.domain.conversion import ConversionRequest, Direction, HookLimits, HookRef
from tests.conversion.build import build_hooks

# Small enough that runaway hooks stop quickly, ample for the examples.
TEST_LIMITS = HookLimits(
    fuel_base=50_000_000,
    fuel_per_document=1_000_000,
    timeout_base_s=30.0,
    memory_bytes=16 * 1024 * 1024,
    output_min_bytes=256 * 1024,
)


@pytest.fixture(scope="session")
def hooks_dir() -> Path:
    return build_hooks()


Hook = Callable[[str], tuple[HookRef, bytes]]


@pytest.fixture(scope="session")
def hook(hooks_dir: Path) -> Hook:
    """``hook("price")`` -> (its HookRef for kind Product, its bytes)."""

    def load(name: str) -> tuple[HookRef, bytes]:
        data = (hooks_dir / f"{name}.wasm").read_bytes()
        return HookRef("Product", f"hooks/{name}.wasm", hashlib.sha256(data).hexdigest()), data

    return load


@pytest.fixture
def runner() -> Iterator[WasmHookRunner]:
    with WasmHookRunner(TEST_LIMITS) as r:
        yield r


def to_hub(ref: HookRef, documents: list[dict[str, object]]) -> ConversionRequest:
    return ConversionRequest(ref, Direction.TO_HUB, "v1", "v2", documents)


def from_hub(ref: HookRef, documents: list[dict[str, object]]) -> ConversionRequest:
    return ConversionRequest(ref, Direction.FROM_HUB, "v2", "v1", documents)
