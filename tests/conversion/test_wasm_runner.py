"""The wasmtime runner with the real example hooks (built from examples/hooks/*.c)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from gitstore.backends.wasm import AsyncHookRunner, WasmHookRunner
from gitstore.domain.conversion import HookFailed, HookModuleRefused, HookRef, HookTimedOut
from gitstore.domain.errors import RetryableError, Unavailable
from tests.conversion.conftest import TEST_LIMITS, Hook, from_hub, to_hub

V1 = [
    {"title": 'Tee "quoted" é', "price": {"amount": "9.99", "currency": "EUR"}, "tags": ["}]"]},
    {"title": "No price"},
    {"price": {"amount": "1", "currency": "USD"}, "title": "Price first", "n": -1.5e3},
]
V2 = [
    {
        "title": 'Tee "quoted" é',
        "pricingMatrix": [{"minQuantity": 1, "price": {"amount": "9.99", "currency": "EUR"}}],
        "tags": ["}]"],
    },
    {"title": "No price"},
    {
        "pricingMatrix": [{"minQuantity": 1, "price": {"amount": "1", "currency": "USD"}}],
        "title": "Price first",
        "n": -1500.0,
    },
]


def assert_healthy(runner: WasmHookRunner, hook: Hook) -> None:
    """A good conversion right after a bad one: the runner is unharmed."""
    ref, data = hook("price")
    assert runner.convert(to_hub(ref, V1[:1]), data) == V2[:1]


def test_price_hook_converts_both_ways(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("price")
    assert runner.convert(to_hub(ref, V1), data) == V2
    assert runner.convert(from_hub(ref, V2), data) == V1


def test_from_hub_takes_the_row_for_quantity_one(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("price")
    tiers = {
        "title": "Tiered",
        "pricingMatrix": [
            {"minQuantity": 10, "price": {"amount": "8", "currency": "EUR"}},
            {"price": {"amount": "9", "currency": "EUR"}, "minQuantity": 1},
        ],
    }
    assert runner.convert(from_hub(ref, [tiers]), data) == [
        {"title": "Tiered", "price": {"amount": "9", "currency": "EUR"}}
    ]


def test_many_documents_in_few_instances_keep_their_order(hook: Hook) -> None:
    ref, data = hook("price")
    docs = [{"title": f"p{i}", "price": {"amount": str(i), "currency": "EUR"}} for i in range(2500)]
    limits = dataclasses.replace(TEST_LIMITS, max_batch_documents=1000)
    with WasmHookRunner(limits) as runner:
        hub = runner.convert(to_hub(ref, docs), data)
        assert [d["pricingMatrix"][0]["price"]["amount"] for d in hub] == [
            str(i) for i in range(2500)
        ]
        assert runner.convert(from_hub(ref, hub), data) == docs


def test_nothing_is_returned_when_a_later_batch_fails(hook: Hook) -> None:
    ref, data = hook("price")
    bad = {"title": "bad", "pricingMatrix": "not a list"}
    limits = dataclasses.replace(TEST_LIMITS, max_batch_documents=2)
    with WasmHookRunner(limits) as runner, pytest.raises(HookFailed) as caught:
        runner.convert(from_hub(ref, [*V2, bad]), data)
    assert caught.value.reason == "exit"
    assert "exited with code 4" in caught.value.message
    assert caught.value.stderr == ("price: document 2 is not a JSON object this hook can read",)


def test_unknown_versions_fail_with_the_hooks_stderr(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("price")
    request = dataclasses.replace(to_hub(ref, V1), from_version="v3")
    with pytest.raises(HookFailed, match=r"no conversion to-hub v3 -> v2 \(knows v1 <-> v2\)"):
        runner.convert(request, data)


def test_identity_copies(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("identity")
    assert runner.convert(to_hub(ref, V1), data) == V1
    assert runner.convert(to_hub(ref, []), data) == []


def test_wrong_sha256_is_refused_before_running(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("price")
    wrong = dataclasses.replace(ref, sha256="0" * 64)
    with pytest.raises(HookModuleRefused) as caught:
        runner.convert(to_hub(wrong, V1), data)
    assert caught.value.reason == "sha256"
    assert hashlib.sha256(data).hexdigest() in caught.value.message
    assert "hooks/price.wasm of kind Product" in caught.value.message
    assert_healthy(runner, hook)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (b"not wasm at all", "not a valid WebAssembly module"),
        (
            wasmtime.wat2wasm('(module (import "env" "steal" (func)) (func (export "_start")))'),
            "imports env.steal",
        ),
        (wasmtime.wat2wasm('(module (func (export "main")))'), "exports no _start"),
    ],
)
def test_modules_that_are_not_wasi_commands_are_refused(
    runner: WasmHookRunner, module: bytes, expected: str
) -> None:
    ref = HookRef("Product", "hooks/odd.wasm", hashlib.sha256(module).hexdigest())
    with pytest.raises(HookModuleRefused, match=expected) as caught:
        runner.convert(to_hub(ref, V1), module)
    assert caught.value.reason == "invalid-module"


@pytest.mark.parametrize(
    ("name", "documents", "reason", "expected"),
    [
        ("loop", [{}], "fuel", "ran out of fuel"),
        ("bomb", [{}], "memory", "out of memory (linear memory"),
        ("openfile", [{}], "exit", "cannot open /etc/passwd"),
        ("garbage", [{}], "output", "line 1 is not JSON"),
        ("garbage", [{"mode": "extra"}], "output", "printed 2 lines for 1 documents"),
        ("garbage", [{"mode": "short"}, {}], "output", "printed 1 lines for 2 documents"),
        ("garbage", [{"mode": "array"}], "output", "line 1 is a JSON array, not an object"),
        ("garbage", [{"mode": "partial"}, {}], "output", "line 2 is not JSON"),
        ("garbage", [{"mode": "trap"}], "trap", "unreachable"),
        ("garbage", [{"mode": "flood"}], "output", "bytes to stdout"),
    ],
)
def test_runaway_hooks_are_stopped_and_the_runner_stays_healthy(
    runner: WasmHookRunner,
    hook: Hook,
    name: str,
    documents: list[dict[str, Any]],
    reason: str,
    expected: str,
) -> None:
    ref, data = hook(name)
    with pytest.raises(HookFailed) as caught:
        runner.convert(to_hub(ref, documents), data)
    error = caught.value
    assert error.reason == reason, error.message
    assert expected in error.message
    assert f"conversion hook hooks/{name}.wasm of kind Product (to-hub v1 -> v2)" in error.message
    assert not isinstance(error, RetryableError)
    assert_healthy(runner, hook)


def test_wall_clock_deadline_stops_a_hook_with_fuel_to_spare(hook: Hook) -> None:
    ref, data = hook("loop")
    limits = dataclasses.replace(TEST_LIMITS, fuel_base=10**15, timeout_base_s=0.2)
    with WasmHookRunner(limits) as runner:
        with pytest.raises(HookTimedOut) as caught:
            runner.convert(to_hub(ref, [{}]), data)
        assert caught.value.reason == "timeout" and isinstance(caught.value, RetryableError)
        assert "wall-clock deadline of 0.2 s" in caught.value.message
        assert_healthy(runner, hook)


def test_openfile_sees_no_files(runner: WasmHookRunner, hook: Hook) -> None:
    ref, data = hook("openfile")
    with pytest.raises(HookFailed) as caught:
        runner.convert(to_hub(ref, [{}]), data)
    assert [line.split(":")[1].strip() for line in caught.value.stderr] == [
        "cannot open /etc/passwd",
        "cannot open secrets.txt",
        "cannot open ../x",
    ]


def test_compiled_modules_are_cached_by_sha256(hook: Hook, tmp_path: Path) -> None:
    price, price_data = hook("price")
    identity, identity_data = hook("identity")
    with WasmHookRunner(TEST_LIMITS, cache_capacity=1, cache_dir=tmp_path) as runner:
        for _ in range(3):
            runner.convert(to_hub(price, V1), price_data)
        other_kind = dataclasses.replace(price, kind="Bundle", module="hooks/other.wasm")
        runner.convert(to_hub(other_kind, V1), price_data)  # same bytes: same entry
        assert runner.modules.compiled == 1 and len(runner.modules) == 1
        runner.convert(to_hub(identity, V1), identity_data)  # evicts price (capacity 1)
        runner.convert(to_hub(price, V1), price_data)  # back from the serialized file
        assert runner.modules.compiled == 2 and len(runner.modules) == 1
    assert len(list(tmp_path.glob("*.cwasm"))) == 2
    with WasmHookRunner(TEST_LIMITS, cache_dir=tmp_path) as restarted:
        assert restarted.convert(to_hub(price, V1), price_data) == V2
        assert restarted.modules.compiled == 0
    for path in tmp_path.glob("*.cwasm"):
        path.write_bytes(b"corrupt")
    with WasmHookRunner(TEST_LIMITS, cache_dir=tmp_path) as recovering:
        assert recovering.convert(to_hub(price, V1), price_data) == V2
        assert recovering.modules.compiled == 1


async def test_async_runner_keeps_the_event_loop_free(hook: Hook) -> None:
    loop_ref, loop_data = hook("loop")
    price, price_data = hook("price")
    limits = dataclasses.replace(TEST_LIMITS, fuel_base=10**15, timeout_base_s=1.0)
    with WasmHookRunner(limits) as runner:
        pool = AsyncHookRunner(runner, max_workers=2, max_pending=0)
        try:
            slow = asyncio.create_task(pool.convert(to_hub(loop_ref, [{}]), loop_data))
            while pool.inflight == 0:
                await asyncio.sleep(0)
            # The loop hook runs in a worker thread; this coroutine still runs meanwhile.
            assert await pool.convert(to_hub(price, V1), price_data) == V2
            assert not slow.done()
            busy = asyncio.create_task(pool.convert(to_hub(loop_ref, [{}]), loop_data))
            while pool.inflight < 2:
                await asyncio.sleep(0)
            with pytest.raises(Unavailable, match="busy"):
                await pool.convert(to_hub(price, V1), price_data)
            for task in (slow, busy):
                with pytest.raises(HookTimedOut):
                    await task
            results = await asyncio.gather(
                *(pool.convert(to_hub(price, V1), price_data) for _ in range(2))
            )
            assert results == [V2, V2]
        finally:
            pool.close()
