"""Subgraph mode is a setting, off by default, and the SDL it serves carries the federation
directives that graphql-core's own printer drops."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from graphql import parse, print_schema

from gitstore.api.federation.sdl import LINK, subgraph_sdl
from gitstore.api.storeschema.schemas import StoreSchemas
from gitstore.config import load_settings
from gitstore.domain.content import KindRegistry


def candidate(**overrides: Any) -> Any:
    services = SimpleNamespace(settings=load_settings(**overrides))
    schemas = StoreSchemas(cast(Any, services))
    _custom, _store, _control, schema = schemas._candidate(KindRegistry.builtin(), isolate=False)
    return schema


def test_off_by_default() -> None:
    assert load_settings().api.federation is False
    schema = candidate()
    assert "_service" not in schema.query_type.fields
    assert "_entities" not in schema.query_type.fields
    assert schema.get_type("_Entity") is None


def test_the_environment_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITSTORE_API__FEDERATION", "true")
    assert load_settings().api.federation is True
    monkeypatch.setenv("GITSTORE_API__FEDERATION", "maybe")
    with pytest.raises(ValueError, match="federation"):
        load_settings()


def test_subgraph_sdl_has_link_and_keys_graphql_core_would_drop() -> None:
    schema = candidate(**{"api.federation": True})
    assert {"_service", "_entities"} <= set(schema.query_type.fields)
    entity = schema.get_type("_Entity")
    assert sorted(t.name for t in entity.types) == ["Category", "Collection", "Product"]
    keys = {"Product": ("id", "name")}
    assert "@key" not in print_schema(schema)  # why sdl.py exists
    sdl = subgraph_sdl(schema, keys)
    assert sdl.startswith(LINK + "\n")
    assert 'type Product implements Node @key(fields: "id") @key(fields: "name") {' in sdl or (
        'type Product @key(fields: "id") @key(fields: "name") {' in sdl
    )
    for hidden in ("_service", "_entities", "_Any", "_Entity", "_Service"):
        assert hidden not in sdl
    parse(sdl)  # well-formed SDL


def test_missing_node_fails_on_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.federation.gateway import node_binary

    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="node and npm are needed"):
        node_binary()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="node and npm are needed"):
        node_binary()
