"""PreReceive and custom kinds: each pushed commit is judged with the kinds of its own tree."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gitstore.api.hooks.prereceive import pre_receive
from gitstore.hook.v1 import hook_service_pb2 as hook_pb2
from tests.api_hooks.harness import Hooks, pushed_commit, pushed_ref, request

pytestmark = pytest.mark.asyncio


def brand_kind(schema: dict[str, Any] | None = None, **names: str) -> bytes:
    names = {"kind": "Brand", "plural": "brands", "singular": "brand", **names}
    return json.dumps(
        {
            "apiVersion": "gitstore.dev/v1",
            "kind": "KindDefinition",
            "metadata": {"name": names["plural"]},
            "spec": {
                "group": "acme.example",
                "names": names,
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": schema
                        or {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["title"],
                            "properties": {"title": {"type": "string", "minLength": 1}},
                        },
                    }
                ],
            },
        }
    ).encode()


def brand(name: str, **spec: Any) -> bytes:
    return json.dumps(
        {
            "apiVersion": "acme.example/v1",
            "kind": "Brand",
            "metadata": {"name": name},
            "spec": spec or {"title": name.title()},
        }
    ).encode()


async def push(
    hooks: Hooks, base: str, files: dict[str, bytes], deletes: tuple[str, ...] = ()
) -> hook_pb2.PreReceiveResponse:
    sha = await hooks.stage(files, deletes, parent=base)
    ref = pushed_ref("refs/heads/main", base, sha, [pushed_commit(sha, [base])])
    return await pre_receive(hooks.services, request(hooks, ref))


def texts(response: hook_pb2.PreReceiveResponse) -> list[tuple[str, str, str]]:
    return [(v.rule, v.path, v.message) for v in response.violations]


async def test_a_kind_and_its_resources_in_one_push_are_allowed(hooks: Hooks) -> None:
    base = await hooks.land({"README.md": b"shop\n"})
    response = await push(
        hooks, base, {"kinds/brands.json": brand_kind(), "brands/acme.json": brand("acme")}
    )
    assert response.allowed, response.messages


async def test_a_resource_is_checked_against_its_commit_s_kind(hooks: Hooks) -> None:
    base = await hooks.land({"kinds/brands.json": brand_kind()})
    response = await push(hooks, base, {"brands/acme.json": brand("acme", title="")})
    assert not response.allowed
    [(rule, path, message)] = texts(response)
    assert (rule, path) == ("schema", "brands/acme.json")
    assert "spec.title" in message


async def test_an_invalid_definition_is_refused(hooks: Hooks) -> None:
    base = await hooks.land({"README.md": b"shop\n"})
    bad = brand_kind({"type": "string"})
    response = await push(hooks, base, {"kinds/brands.json": bad})
    assert not response.allowed
    assert [(r, p) for r, p, _ in texts(response)] == [("schema", "kinds/brands.json")]


async def test_a_definition_reusing_a_builtin_plural_is_refused(hooks: Hooks) -> None:
    base = await hooks.land({"README.md": b"shop\n"})
    clash = brand_kind(plural="products", singular="product")
    response = await push(hooks, base, {"kinds/products.json": clash})
    assert not response.allowed
    [(rule, path, message)] = texts(response)
    assert (rule, path) == ("schema", "kinds/products.json")
    assert "plural 'products' is already used by kind Product" in message


async def test_removing_a_kind_that_has_resources_is_refused_naming_them(hooks: Hooks) -> None:
    files = {"kinds/brands.json": brand_kind()}
    files.update({f"brands/b{i:02}.json": brand(f"b{i:02}") for i in range(12)})
    base = await hooks.land(files)
    response = await push(hooks, base, {}, ("kinds/brands.json",))
    assert not response.allowed
    [(rule, path, message)] = texts(response)
    assert (rule, path) == ("schema", "kinds/brands.json")
    assert "kind Brand is removed but 12 resources (brands/b00.json, " in message
    assert "brands/b09.json, and 2 more) still use it" in message
    # removing the resources in the same push is fine
    gone = ("kinds/brands.json", *(p for p in files if p.startswith("brands/")))
    assert (await push(hooks, base, {}, gone)).allowed


async def test_a_definition_change_that_invalidates_resources_is_refused(hooks: Hooks) -> None:
    base = await hooks.land({"kinds/brands.json": brand_kind(), "brands/acme.json": brand("acme")})
    stricter = brand_kind(
        {
            "type": "object",
            "required": ["title", "country"],
            "properties": {"title": {"type": "string"}, "country": {"type": "string"}},
        }
    )
    response = await push(hooks, base, {"kinds/brands.json": stricter})
    assert not response.allowed
    [(rule, path, message)] = texts(response)
    assert (rule, path) == ("schema", "kinds/brands.json")
    assert "makes 1 resource (brands/acme.json) invalid" in message
    # migrating the resource in the same commit is allowed
    migrated = brand("acme", title="Acme", country="NL")
    response = await push(
        hooks, base, {"kinds/brands.json": stricter, "brands/acme.json": migrated}
    )
    assert response.allowed, response.messages


async def test_an_unchanged_kinds_tree_is_read_once(hooks: Hooks) -> None:
    base = await hooks.land({"kinds/brands.json": brand_kind()})
    loader = hooks.services.kinds()
    assert (await push(hooks, base, {"brands/a.json": brand("a")})).allowed
    loads = loader.loads
    assert (await push(hooks, base, {"brands/b.json": brand("b")})).allowed
    assert loader.loads == loads


async def test_a_definition_whose_graphql_names_collide_is_refused(hooks: Hooks) -> None:
    base = await hooks.land({"README.md": b"shop\n"})
    clash = brand_kind(
        {
            "type": "object",
            "properties": {"pack size": {"type": "integer"}, "packSize": {"type": "integer"}},
        }
    )
    response = await push(hooks, base, {"kinds/brands.json": clash})
    assert not response.allowed
    [(rule, path, message)] = texts(response)
    assert (rule, path) == ("schema", "kinds/brands.json")
    assert "GraphQL names of kind Brand (v1) collide at #/properties/packSize" in message
    assert "field name packSize is already used by #/properties/pack size" in message
    assert any("#/properties/packSize" in line for line in response.messages)
    fixed = brand_kind({"type": "object", "properties": {"packSize": {"type": "integer"}}})
    assert (await push(hooks, base, {"kinds/brands.json": fixed})).allowed
