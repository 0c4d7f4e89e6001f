"""Hook limits are settings (``GITSTORE_CONVERSION__*``): a stack whose fuel is lowered
refuses a v1 write that the real ``price.wasm`` converts under the default limits, through
``applyManifests`` (the API's runner) and the worker's runner alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitstore.backends.wasm import WasmHookRunner
from gitstore.config import ConversionSettings, load_settings
from gitstore.domain.conversion import ConversionRequest, Direction, HookFailed, HookRef
from gitstore.git.client import GitClient
from gitstore.worker.service import WorkerService
from tests.conversion.build import build_hooks

from .harness import Stack, start_stack
from .ops import Person, make_repository, ok, person
from .test_hub_conversion import PRICE, apply, commit_hooks, offer, offer_kind

LOW_FUEL = {
    "conversion.fuel_base": 1000,
    "conversion.fuel_per_document": 0,
    "conversion.fuel_per_byte": 0,
}


@pytest.fixture(scope="module")
def hooks() -> Path:
    return build_hooks()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_stack(tmp_path_factory.mktemp("hook-limits"), **LOW_FUEL) as running:
        yield running


@pytest.fixture(scope="module")
def owner(stack: Stack) -> Person:
    return person(stack.api)


def request(wasm: bytes) -> tuple[ConversionRequest, bytes]:
    ref = HookRef("Offer", "hooks/price.wasm", hashlib.sha256(wasm).hexdigest())
    document = {"title": "A", "price": PRICE}  # hooks convert specs
    return ConversionRequest(ref, Direction.TO_HUB, "v1", "v2", [document]), wasm


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITSTORE_CONVERSION__MEMORY_BYTES", str(8 * 1024 * 1024))
    monkeypatch.setenv("GITSTORE_CONVERSION__TIMEOUT_BASE_SECONDS", "0.5")
    limits = load_settings().conversion.hook_limits()
    assert limits.memory_bytes == 8 * 1024 * 1024
    assert limits.timeout_base_s == 0.5
    assert limits.fuel_base == ConversionSettings().fuel_base  # untouched: the default
    monkeypatch.setenv("GITSTORE_CONVERSION__FUEL_BASE", "0")
    with pytest.raises(ValueError, match="fuel_base"):
        load_settings()


def test_the_default_limits_convert_what_the_lowered_ones_refuse(hooks: Path) -> None:
    conversion, wasm = request((hooks / "price.wasm").read_bytes())
    with WasmHookRunner(ConversionSettings().hook_limits()) as runner:
        [converted] = runner.convert(conversion, wasm)
    assert converted["pricingMatrix"] == [{"minQuantity": 1, "price": PRICE}]
    low = ConversionSettings(**_plain(LOW_FUEL)).hook_limits()
    with WasmHookRunner(low) as runner, pytest.raises(HookFailed, match="ran out of fuel"):
        runner.convert(conversion, wasm)


def test_a_lowered_limit_refuses_the_write_through_the_api(
    stack: Stack, owner: Person, hooks: Path
) -> None:
    repo = make_repository(stack.api, owner)
    git = stack.api.services.git()
    commit_hooks(stack, git, repo, hooks, "price")
    price = (hooks / "price.wasm").read_bytes()
    ok(apply(stack, owner, repo, offer_kind("hooks/price.wasm", price)))
    before = stack.commit_count(repo)
    result = apply(stack, owner, repo, offer("a", "v1", price=PRICE))
    assert not result["committed"]
    assert stack.commit_count(repo) == before
    [error] = result["userErrors"]
    assert "conversion hook hooks/price.wasm of kind Offer" in error["message"]
    assert "ran out of fuel (1,000 units" in error["message"]


def test_the_worker_runs_hooks_with_the_configured_limits(stack: Stack, hooks: Path) -> None:
    async def client() -> GitClient:
        return GitClient(f"127.0.0.1:{stack.git.port}", timeout=30)

    git = stack.api.run(client())
    service = WorkerService(stack.settings, kv=stack.api.services.kv(), git=git, grace=1.0)
    stack.api.run(service.start())
    try:
        projector = service.projector
        assert projector is not None
        conversion, wasm = request((hooks / "price.wasm").read_bytes())

        async def convert() -> None:
            await projector.hooks.convert(conversion, wasm)

        with pytest.raises(HookFailed, match="ran out of fuel"):
            stack.api.run(convert())
    finally:
        stack.api.run(service.stop())
        stack.api.run(git.close())


def _plain(dotted: dict[str, int]) -> dict[str, int]:
    return {k.split(".", 1)[1]: v for k, v in dotted.items()}
