"""Memory of store schemas (unit test, with doubles for the git service and kinds loader):
10,000 repositories on the built-ins share one schema object, repositories with the same
custom kinds share theirs, and the cache bound really frees schemas — an evicted schema is
no longer reachable from ``StoreSchemas`` (its repositories are forgotten with it) and is
garbage collected. And a kind that breaks the optimistic build (every kind typed once,
straight into the candidate) is found by the isolated rebuild and served as JSON. And the
platform's part is shared by every candidate while each one's kinds stay its own, and a
document is carried to a new schema unvalidated only through that shared part."""

from __future__ import annotations

import asyncio
import gc
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import parse

from gitstore.api.graphql.catalog_mutations import REGISTRY_EXTENSION
from gitstore.api.graphql.execution.carry import same_for
from gitstore.api.graphql.execution.documents import DocumentCache, DocumentError
from gitstore.api.storeschema import groups
from gitstore.api.storeschema.platform import platform
from gitstore.api.storeschema.schemas import BUILTIN, StoreSchemas, fingerprint
from gitstore.backends.metadata.base import PublishMode, RepositoryRecord, Visibility
from gitstore.config import Settings
from gitstore.domain.content.kindset import Kinds, builtin_registry, registry_for
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.errors import NotFound
from tests.support.kinds import brand_kind

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def record(name: str) -> RepositoryRecord:
    return RepositoryRecord(
        name, "ns-id", "shop", name, "", PublishMode.ON_COMMIT, "main", Visibility.PRIVATE,
        NOW, "u", NOW, "u",
    )  # fmt: skip


@dataclass
class Git:
    """``resolve_revision``: repositories in ``heads`` have a head commit; others are empty."""

    heads: dict[str, str]

    async def resolve_revision(self, repository_id: str, _revision: str) -> Any:
        name = repository_id.removeprefix("shop/")
        if name not in self.heads:
            raise NotFound(f"{repository_id} has no commits")
        return SimpleNamespace(commit_sha=self.heads[name])


@dataclass
class Loader:
    """The kinds of each head commit (its ``kinds/`` tree id is the commit here)."""

    kinds: dict[str, Kinds]

    async def tree_id(self, _repository_id: str, commit: str) -> str:
        return commit

    async def of_tree(self, _repository_id: str, _commit: str, tree: str) -> Kinds:
        return self.kinds[tree]

    def unreadable(self, _tree: str) -> tuple[()]:
        return ()  # every kinds/ file here parses


def schemas(heads: dict[str, str], kinds: dict[str, Kinds], **limits: int) -> StoreSchemas:
    git, loader = Git(heads), Loader(kinds)
    services = SimpleNamespace(settings=Settings(), git=lambda: git, kinds=lambda: loader)
    return StoreSchemas(services, ttl=3600.0, **limits)  # type: ignore[arg-type]


def brands(group: str) -> Kinds:
    definition = brand_kind()
    definition["spec"]["group"] = group
    return registry_for([Manifest.from_object(definition, "kinds/brands.yaml")])


def test_ten_thousand_builtin_repositories_share_one_schema() -> None:
    store = schemas({}, {})

    async def run() -> set[int]:
        snapshots = [await store.snapshot(record(f"r{i}")) for i in range(10_000)]
        return {id(s.schema) for s in snapshots}

    assert len(asyncio.run(run())) == 1
    assert store.builds == 1
    assert list(store._schemas) == [BUILTIN]
    assert len(store._repos) == store.repositories  # per-repository state is bounded too


def test_the_cache_bound_evicts_and_frees_schemas() -> None:
    groups = [f"g{i}.example" for i in range(6)]
    kinds = {f"c{i}": brands(g) for i, g in enumerate(groups)}
    # two repositories per kind set: r0a/r0b share c0, ...
    heads = {f"r{i}{x}": f"c{i}" for i in range(6) for x in "ab"}
    store = schemas(heads, kinds, capacity=3)

    async def run() -> list[Any]:
        out = []
        for i in range(6):
            a = await store.snapshot(record(f"r{i}a"))
            b = await store.snapshot(record(f"r{i}b"))
            assert a is b  # same kinds, one schema object
            out.append(weakref.ref(a.schema))
        return out

    refs = asyncio.run(run())
    assert store.builds == 6
    assert len(store._schemas) == 3
    reachable = {id(state.built) for state in store._repos.values()}
    assert reachable <= {id(b) for b in store._schemas.values()}
    assert sorted(store._repos) == [f"shop/r{i}{x}" for i in (3, 4, 5) for x in "ab"]
    gc.collect()
    assert [r() is None for r in refs] == [True, True, True, False, False, False]


def test_a_schema_in_use_stays_while_unused_ones_are_evicted() -> None:
    kinds = {f"c{i}": brands(f"g{i}.example") for i in range(4)}
    heads = {f"r{i}": f"c{i}" for i in range(4)}
    store = schemas(heads, kinds, capacity=2)

    async def run() -> None:
        hot = await store.snapshot(record("r0"))
        for i in (1, 2, 3):
            await store.snapshot(record(f"r{i}"))
            assert await store.snapshot(record("r0")) is hot  # used: most recently used

    asyncio.run(run())
    assert store.builds == 4  # r0 was never rebuilt
    assert sorted(store._repos) == ["shop/r0", "shop/r3"]


def test_a_kind_that_breaks_the_build_is_isolated_and_served_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = groups.types_for_kind

    def flaky(definition: Any, builder: Any, *args: Any, **kwargs: Any) -> Any:
        if definition.kind == "Gadget":
            raise RuntimeError("typegen bug")
        return real(definition, builder, *args, **kwargs)

    monkeypatch.setattr(groups, "types_for_kind", flaky)
    gadget = brand_kind()
    gadget["metadata"]["name"] = "gadgets"
    gadget["spec"]["names"] = {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"}
    kinds = registry_for(
        [
            Manifest.from_object(brand_kind(), "kinds/brands.yaml"),
            Manifest.from_object(gadget, "kinds/gadgets.yaml"),
        ]
    )
    store = schemas({}, {})
    built = store._build(fingerprint(kinds.registry), kinds.registry)
    assert built.untyped == ("Gadget: RuntimeError: typegen bug",)
    schema = built.snapshot.schema
    assert "title" in schema.type_map["Brand"].fields  # type: ignore[union-attr]
    assert set(schema.type_map["Gadget"].fields) == {  # type: ignore[union-attr]
        "id", "name", "labels", "annotations", "version", "path", "spec", "asVersion",
    }  # fmt: skip


def gadgets(group: str) -> Kinds:
    definition = brand_kind()
    definition["metadata"]["name"] = "gadgets"
    definition["spec"]["group"] = group
    definition["spec"]["names"] = {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"}
    return registry_for([Manifest.from_object(definition, "kinds/gadgets.yaml")])


def test_candidates_share_the_platform_types_yet_never_each_others_kinds() -> None:
    """The platform's part is built once per process and shared by every candidate (same
    type objects), while each repository's kinds stay in its own schema: not in another
    repository's, not in the built-ins schema, not in the shared template."""
    store = schemas({}, {})
    a, b = brands("a.example").registry, gadgets("b.example").registry
    schema_a = store._build(fingerprint(a), a).snapshot.schema
    schema_b = store._build(fingerprint(b), b).snapshot.schema
    builtins = store._build(BUILTIN, builtin_registry()).snapshot.schema
    for shared in ("Product", "UserError", "UserErrorCode", "ApplyManifestsPayload", "Channel"):
        assert schema_a.type_map[shared] is schema_b.type_map[shared] is builtins.type_map[shared]
    assert schema_a.query_type is not schema_b.query_type
    assert "Brand" in schema_a.type_map and "Gadget" not in schema_a.type_map
    assert "Gadget" in schema_b.type_map and "Brand" not in schema_b.type_map
    assert "Brand" not in builtins.type_map and "Gadget" not in builtins.type_map
    assert schema_a.query_type is not None and schema_b.query_type is not None
    assert "aExample" in schema_a.query_type.fields
    assert "aExample" not in schema_b.query_type.fields
    assert "upsertBrand" in (schema_a.mutation_type.fields if schema_a.mutation_type else {})
    assert "upsertBrand" not in (schema_b.mutation_type.fields if schema_b.mutation_type else {})
    template = platform(Settings().api.max_page_size).template
    assert not any(template.has_type(n) for n in ("Brand", "Gadget", "BrandConnection"))
    # the schema says which kinds it was built with: the shared mutations start from them
    assert schema_a.extensions[REGISTRY_EXTENSION] is a
    assert schema_b.extensions[REGISTRY_EXTENSION] is b
    # a rebuild of the same kinds makes fresh kind types over the same platform types
    again = store._build(fingerprint(a), a).snapshot.schema
    assert again.type_map["Brand"] is not schema_a.type_map["Brand"]
    assert again.type_map["Product"] is schema_a.type_map["Product"]


def test_a_document_is_carried_to_a_new_schema_only_through_shared_parts() -> None:
    """``same_for``: validation may be skipped for a new schema only when everything the
    document names resolves to the same objects; the storefront's query (platform fields
    only) is carried, a query of a repository's kinds never is, not even to a rebuild of the
    same kinds (new type objects), and a field the new schema lacks is validated (refused)."""
    store = schemas({}, {})
    a = brands("a.example").registry
    old = store._build(fingerprint(a), a).snapshot.schema
    rebuilt = store._build(fingerprint(a), a).snapshot.schema
    other = store._build(fingerprint(gadgets("b.example").registry), gadgets("b.example").registry)
    new = other.snapshot.schema
    storefront = parse("{ catalog { products(first: 10) { totalCount nodes { name title } } } }")
    apply = parse("mutation($i: ApplyManifestsInput!) { applyManifests(input: $i) { committed } }")
    kinds = parse("{ aExample { brands(first: 3) { totalCount } } }")
    typed = parse("mutation($i: UpsertBrandInput!) { upsertBrand(input: $i) { committed } }")
    spread = parse("query { ...Top } fragment Top on Query { catalog { products { totalCount } } }")
    introspection = parse("{ __schema { types { name } } }")
    assert same_for(storefront, old, new) and same_for(apply, old, new)
    assert same_for(storefront, old, rebuilt)
    for document in (kinds, typed):
        assert not same_for(document, old, rebuilt)
        assert not same_for(document, old, new)
    assert not same_for(spread, old, new) and not same_for(introspection, old, new)
    # and preparing through the cache agrees: carried where shared, refused where not
    cache = DocumentCache.from_settings(Settings().api)
    prepared = cache.prepare(other.snapshot, "q", storefront, valid_in=old)
    assert prepared.document is storefront
    with pytest.raises(DocumentError, match="aExample"):
        cache.prepare(other.snapshot, "k", kinds, valid_in=old)
