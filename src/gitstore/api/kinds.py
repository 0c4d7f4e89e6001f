"""The API's wiring of the kind-change rules, for its two write paths: pushes and mutations.

The rules (which kinds may follow which, stranded resources, stored spokes that must still
convert, Wasm hooks that must round-trip) are the domain's: ``gitstore.domain.kindchange``.
This module gives them what only the API has — the GraphQL name-collision check of the
generated types (``storeschema.check.name_errors``) and the API's bounded pool of hook
runners — so that the pre-receive check (``hooks/prereceive_kinds.py``) and the write path
(``catalog/writes/kinds.py``) apply exactly the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.domain.content import ContentError, KindRegistry
from gitstore.domain.content.kindset import Kinds
from gitstore.domain.conversion import ConversionRequest, HookRunner
from gitstore.domain.conversion.hub import Convert
from gitstore.domain.kindchange import ModuleReader, StoredReader, threaded_converter
from gitstore.domain.kindchange import kind_change_problems as _kind_change_problems

from .storeschema.check import name_errors


async def kind_change_problems(
    old: KindRegistry,
    new: Kinds,
    stored: StoredReader,
    module: ModuleReader,
    runner: Callable[[], HookRunner],
    *,
    max_bytes: int,
    hooks_changed: Collection[str] = (),
    convert: Convert | None = None,
    changed_paths: Collection[str] = (),
) -> list[ContentError]:
    """``domain.kindchange.kind_change_problems`` with the GraphQL name check of the API."""
    return await _kind_change_problems(
        old,
        new,
        stored,
        module,
        runner,
        max_bytes=max_bytes,
        type_names=name_errors,
        hooks_changed=hooks_changed,
        convert=convert,
        changed_paths=changed_paths,
    )


def hub_converter(
    runner: Callable[[], HookRunner], pool: Callable[[], AsyncHookRunner] | None = None
) -> Convert:
    """How a write path runs hooks to the hub: on the API's bounded async pool when there is
    one (``ApiServices.hook_pool``), else on a worker thread — never on the event loop."""
    if pool is None:
        return threaded_converter(runner)

    async def convert(request: ConversionRequest, module: bytes) -> list[dict[str, Any]]:
        return await pool().convert(request, module)

    return convert
