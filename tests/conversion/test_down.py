"""Reading hub documents in older versions (``down``, ``downbatch``) with the real price hook:
which fields the hub lost and why, the versions a reader may name, one hook run for all the
conversions of a response, the bounded cache, conversions shared between concurrent
readers, and failures (cached when permanent, each waiter told)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gitstore.backends.wasm import AsyncHookRunner, WasmHookRunner
from gitstore.domain.content.kinds import DeprecatedField, KindDefinition
from gitstore.domain.content.kindset import registry_for
from gitstore.domain.conversion import ConversionRequest, HookFailed, HookModuleRefused
from gitstore.domain.conversion.down import (
    DownCache,
    DownKey,
    served_version,
    spoke_fields,
)
from gitstore.domain.conversion.downbatch import DownConversions, Wanted
from gitstore.domain.errors import InvalidArgument

from .conftest import Hook
from .test_hub import offer_kind

MATRIX = [
    {"minQuantity": 5, "price": {"amount": "3.00", "currency": "EUR"}},
    {"minQuantity": 1, "price": {"amount": "4.00", "currency": "EUR"}},
]


def definition(module: str = "hooks/price.wasm", sha256: str = "0" * 64) -> KindDefinition:
    registry = registry_for([offer_kind(module, sha256)]).registry
    return registry.get("Offer")


def test_spoke_fields_are_the_properties_the_hub_lost() -> None:
    offer = definition()
    [price] = spoke_fields(offer)
    assert (price.prop, price.version.name) == ("price", "v1")
    assert price.reason == (
        "Served in shop.example/v1 only; the hub shop.example/v2 has no price "
        "(read by converting the hub document to v1)."
    )
    v1, v2 = offer.versions
    declared = dataclasses.replace(v1, deprecated_fields=(DeprecatedField("spec.price", "Use X"),))
    [price] = spoke_fields(dataclasses.replace(offer, versions=(declared, v2)))
    assert price.reason == "Use X"
    # versions that share the hub's shape have none; nor does a version that is not served
    none = dataclasses.replace(
        offer, conversion=dataclasses.replace(offer.conversion, strategy="None")
    )
    assert spoke_fields(none) == []
    hidden = dataclasses.replace(v1, served=False)
    assert spoke_fields(dataclasses.replace(offer, versions=(hidden, v2))) == []


def test_served_versions_by_name_or_api_version() -> None:
    offer = definition()
    assert served_version(offer, "v1").name == "v1"
    assert served_version(offer, "shop.example/v2").name == "v2"
    for bad in ("v3", "other.example/v1", ""):
        with pytest.raises(
            InvalidArgument, match=r"kind Offer has no served version .* \(served: v1, v2\)"
        ):
            served_version(offer, bad)


def test_the_cache_is_bounded_by_entries_and_bytes() -> None:
    def key(i: int) -> DownKey:
        return DownKey("ns/r", "Offer", f"o{i}", "d", "h", "v1")

    cache = DownCache(entries=3, max_bytes=10_000)
    for i in range(5):
        cache.put(key(i), {"i": i})
    assert len(cache) == 3 and cache.get(key(0)) is None and cache.get(key(4)) == {"i": 4}
    small = DownCache(entries=100, max_bytes=100)
    for i in range(10):
        small.put(key(i), {"text": "x" * 30})
    assert small.bytes <= 100 and len(small) == 2
    small.put(key(99), {"text": "x" * 200})  # larger than the cache: not kept
    assert small.get(key(99)) is None
    with pytest.raises(ValueError, match="at least one entry"):
        DownCache(entries=0)


class Counting:
    """The real async pool, counting the requests it was given."""

    def __init__(self, pool: AsyncHookRunner) -> None:
        self.pool = pool
        self.requests: list[ConversionRequest] = []

    async def __call__(self, request: ConversionRequest, module: bytes) -> list[dict[str, Any]]:
        self.requests.append(request)
        return await self.pool.convert(request, module)


Setup = Callable[..., tuple[KindDefinition, DownConversions, Counting, list[tuple[str, str]]]]


@pytest.fixture
def setup(runner: WasmHookRunner, hook: Hook) -> Iterator[Setup]:
    """``setup(hook_name)``: the Offer kind converted by that hook, a ``DownConversions`` on
    the real pool whose module is found at commit ``c1`` only, its counting convert and the
    module reads it made."""
    pools: list[AsyncHookRunner] = []

    def make(
        name: str = "price",
    ) -> tuple[KindDefinition, DownConversions, Counting, list[tuple[str, str]]]:
        ref, data = hook(name)
        offer = definition(ref.module, ref.sha256)
        pools.append(AsyncHookRunner(runner))
        convert = Counting(pools[-1])
        reads: list[tuple[str, str]] = []

        async def read(repository: str, commit: str, path: str) -> bytes | None:
            reads.append((commit, path))
            return data if commit == "c1" and path == ref.module else None

        return offer, DownConversions(convert, read), convert, reads

    yield make
    for pool in pools:
        pool.close()


def wanted(offer: KindDefinition, name: str, spec: Any, version: str = "v1") -> Wanted:
    return Wanted(offer, version, "ns/r", name, spec, ("c0", "c1"))


def test_one_hook_run_for_a_response_then_the_cache(setup: Setup) -> None:
    offer, shared, convert, reads = setup()

    async def response() -> list[dict[str, Any]]:
        batch = shared.batch()
        specs = [{"title": f"t{i}", "pricingMatrix": MATRIX} for i in range(50)]
        asks = [batch.spec_in(wanted(offer, f"o{i}", s)) for i, s in enumerate(specs)]
        asks.append(batch.spec_in(wanted(offer, "o0", specs[0])))  # twice in one response
        asks.append(batch.spec_in(wanted(offer, "hub", specs[0], "v2")))  # the hub: no hook
        return await asyncio.gather(*asks)

    first = asyncio.run(response())
    assert first[0] == {"title": "t0", "price": {"amount": "4.00", "currency": "EUR"}}
    assert first[50] == first[0] and first[51] == {"title": "t0", "pricingMatrix": MATRIX}
    [request] = convert.requests
    assert (request.direction.value, request.from_version, request.to_version) == (
        "from-hub",
        "v2",
        "v1",
    )
    assert len(request.documents) == 50 and shared.runs == 1 and shared.documents == 50
    assert reads == [("c0", "hooks/price.wasm"), ("c1", "hooks/price.wasm")]
    # the next response: every document from the cache, no run, no module read
    assert asyncio.run(response()) == first
    assert len(convert.requests) == 1 and len(reads) == 2

    # a changed document is a new key
    async def changed() -> dict[str, Any]:
        return await shared.batch().spec_in(
            wanted(offer, "o1", {"title": "new", "pricingMatrix": MATRIX})
        )

    assert asyncio.run(changed())["title"] == "new" and len(convert.requests) == 2


def test_concurrent_readers_share_one_conversion(setup: Setup) -> None:
    offer, shared, convert, _ = setup()
    spec = {"title": "t", "pricingMatrix": MATRIX}

    async def two() -> list[dict[str, Any]]:
        return await asyncio.gather(
            shared.batch().spec_in(wanted(offer, "o", spec)),
            shared.batch().spec_in(wanted(offer, "o", spec)),
        )

    a, b = asyncio.run(two())
    assert a == b and len(convert.requests) == 1


def test_a_failing_hook_fails_each_waiter_and_is_cached(setup: Setup) -> None:
    offer, shared, convert, _ = setup("garbage")

    async def read(name: str) -> BaseException | dict[str, Any]:
        batch = shared.batch()
        asks = [
            batch.spec_in(wanted(offer, n, {"title": n, "pricingMatrix": MATRIX}))
            for n in (name, name + "2")
        ]
        results = await asyncio.gather(*asks, return_exceptions=True)
        return results[0]

    error = asyncio.run(read("a"))
    assert isinstance(error, HookFailed) and error.reason == "output"
    assert "conversion hook hooks/garbage.wasm of kind Offer (from-hub v2 -> v1)" in str(error)
    assert error.stderr == ("garbage: misbehaving as asked",)
    again = asyncio.run(read("a"))
    assert isinstance(again, HookFailed) and len(convert.requests) == 1


def test_a_missing_module_is_refused(setup: Setup) -> None:
    offer, shared, convert, _ = setup()
    moved = dataclasses.replace(
        offer, conversion=dataclasses.replace(offer.conversion, module="hooks/gone.wasm")
    )

    async def read() -> dict[str, Any]:
        return await shared.batch().spec_in(
            wanted(moved, "o", {"title": "t", "pricingMatrix": MATRIX})
        )

    with pytest.raises(
        HookModuleRefused, match=r"hooks/gone\.wasm of kind Offer: the module file is not"
    ):
        asyncio.run(read())
    assert convert.requests == []
