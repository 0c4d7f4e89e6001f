"""The pure contract: batching, output decoding, limits (no wasm runs here)."""

from __future__ import annotations

import json

import pytest

from gitstore.domain.conversion import (
    Direction,
    HookContext,
    HookFailed,
    HookLimits,
    HookModuleRefused,
    HookTimedOut,
    decode_batch_output,
    encode_batches,
)
from gitstore.domain.conversion.checks import first_difference
from gitstore.domain.errors import FailedPrecondition, InvalidArgument, RetryableError

CTX = HookContext("Product", "hooks/price.wasm", "to-hub", "v1", "v2")


def test_batches_are_json_lines_cut_by_count_and_bytes() -> None:
    docs = [{"n": f"{i:03d}", "text": "é\nx"} for i in range(25)]
    batches = list(encode_batches(docs, HookLimits(max_batch_documents=10)))
    assert [b.count for b in batches] == [10, 10, 5]
    lines = b"".join(b.payload for b in batches).decode().split("\n")
    assert lines[-1] == "" and [json.loads(line) for line in lines[:-1]] == docs
    line_size = len(batches[0].payload) // 10
    by_bytes = list(encode_batches(docs, HookLimits(max_batch_bytes=line_size * 3 + 1)))
    assert [b.count for b in by_bytes] == [3] * 8 + [1]


def test_a_document_over_the_byte_limit_goes_alone() -> None:
    docs = [{"a": 1}, {"big": "x" * 100}, {"b": 2}]
    assert [b.count for b in encode_batches(docs, HookLimits(max_batch_bytes=20))] == [1, 1, 1]


def test_limits_scale_with_the_batch() -> None:
    limits = HookLimits()
    assert limits.fuel_for(100, 10_000) > limits.fuel_for(1, 100) > limits.fuel_base
    assert limits.timeout_for(1000, 4 << 20) > limits.timeout_for(1, 10) > limits.timeout_base_s
    assert limits.output_limit(10) == limits.output_min_bytes
    assert limits.output_limit(1 << 20) == 8 << 20


def test_decoding_output() -> None:
    assert decode_batch_output(b'{"a":1}\n{"b":[2]}\n\n', 2, CTX) == [{"a": 1}, {"b": [2]}]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (b'{"a":1}\n', "printed 1 lines for 2 documents"),
        (b'{"a":1}\n{}\n{}\n', "printed 3 lines for 2 documents"),
        (b'{"a":1}\nnot json\n', "line 2 is not JSON"),
        (b'{"a":1}\n[1]\n', "line 2 is a JSON array, not an object"),
        (b'{"a":1}\n{"x":NaN}\n', "line 2 is not JSON"),
        (b'{"a":1}\n{"x":"\xff"}\n', "stdout is not UTF-8"),
    ],
)
def test_bad_output_is_refused_with_the_reason(output: bytes, expected: str) -> None:
    with pytest.raises(HookFailed) as caught:
        decode_batch_output(output, 2, CTX, ["hook: something went wrong"])
    error = caught.value
    assert error.reason == "output" and expected in error.message
    assert "hooks/price.wasm" in error.message and "Product" in error.message
    assert "to-hub v1 -> v2" in error.message
    assert "hook: something went wrong" in error.message


def test_error_types_say_retryable_or_permanent() -> None:
    failed = HookFailed("fuel", CTX, "ran out of fuel")
    timed_out = HookTimedOut("timeout", CTX, "deadline")
    refused = HookModuleRefused("sha256", HookContext("Product", "hooks/x.wasm"), "mismatch")
    assert isinstance(failed, FailedPrecondition) and not isinstance(failed, RetryableError)
    assert isinstance(timed_out, RetryableError)
    assert isinstance(refused, InvalidArgument)
    assert refused.message == "conversion hook hooks/x.wasm of kind Product: mismatch"
    assert Direction("to-hub") is Direction.TO_HUB


def test_first_difference() -> None:
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}) is None
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == "spec.a[1].b"
    assert first_difference({"a": 1}, {"a": 1, "c": 0}) == "spec.c"
    assert first_difference({"a": 1}, {"a": 1.0}) == "spec.a"
    assert first_difference({"a": [1]}, {"a": [1, 2]}) == "spec.a"
