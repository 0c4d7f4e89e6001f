"""``ResourceStore.select_page`` on every resource store (memory, SQLite, real PostgreSQL):
the pages of a list, in (kind, name) order, with a label selector and across kinds."""

from __future__ import annotations

from gitstore.backends.resources import ResourceStore
from gitstore.backends.resources.base import PAGE_CHUNK
from gitstore.domain.resources.model import SpecUpsert
from gitstore.domain.resources.selector import parse_selector
from tests.test_resources_contract import REPO, factory, product, store

__all__ = ["factory", "store"]  # the fixtures, parametrised over every backend


async def pages(
    store: ResourceStore, kind: str | None, selector: str | None, first: int
) -> tuple[list[list[str]], set[int]]:
    """Every page's names and the versions the chunks were read at."""
    out: list[list[str]] = []
    versions: set[int] = set()
    after = None
    parsed = parse_selector(selector) if selector else None
    while True:
        items, version, more = await store.select_page(REPO, kind, parsed, after=after, first=first)
        out.append([r.name for r in items])
        versions.add(version)
        if not more:
            return out, versions
        after = ("product" if items[-1].kind == "Product" else "category", items[-1].name)


async def test_pages_cover_the_list_once_in_order(store: ResourceStore) -> None:
    names = [f"p{n:02d}" for n in range(7)]
    await store.apply_commit(REPO, "c1", [product(n) for n in reversed(names)], [])
    got, versions = await pages(store, "Product", None, 3)
    assert got == [names[0:3], names[3:6], names[6:7]]
    assert versions == {await store.current_version(REPO)}
    exact, _ = await pages(store, "Product", None, 7)
    assert exact == [names]  # no empty trailing page when the list ends on a page boundary


async def test_selector_pages_skip_non_matching_objects(store: ResourceStore) -> None:
    upserts = [product(f"p{n:03d}", tier="gold" if n % 3 == 0 else "tin") for n in range(40)]
    await store.apply_commit(REPO, "c1", upserts, [])
    got, _ = await pages(store, "Product", "tier=gold", 4)
    flat = [name for page in got for name in page]
    assert flat == [f"p{n:03d}" for n in range(0, 40, 3)]
    assert all(len(page) == 4 for page in got[:-1])


async def test_pages_across_kinds_and_past_a_store_chunk(store: ResourceStore) -> None:
    many = [product(f"p{n:04d}") for n in range(PAGE_CHUNK + 20)]
    cats = [SpecUpsert("Category", f"c{n}", "gitstore.dev/v1", {"title": "c"}) for n in range(3)]
    await store.apply_commit(REPO, "c1", many + cats, [])
    rare = [product("p0007", tier="rare"), product(f"p{PAGE_CHUNK + 10:04d}", tier="rare")]
    await store.apply_commit(REPO, "c2", rare, [])
    got, _ = await pages(store, None, None, 200)
    flat = [name for page in got for name in page]
    assert flat == ["c0", "c1", "c2"] + [f"p{n:04d}" for n in range(PAGE_CHUNK + 20)]
    picked, _ = await pages(store, None, "tier=rare", 1)
    assert picked == [["p0007"], [f"p{PAGE_CHUNK + 10:04d}"]]
