"""A real catalogue in the content-model layout, for the catalogue benchmark.

Unlike ``_catalog.SHARDED`` (synthetic manifests in sharded directories), these are valid
manifests of the built-in kinds at the paths of the content-model convention
(docs/content-model.md), computed by the domain's own ``path_for`` (``path_of`` here), so a
repository of 100,000 products is laid out as a real store of that size is, whatever the
convention is at the time (fixtures are cached per layout: ``layout_fingerprint``).

* 31 categories: three roots (``home``, ``apparel``, ``accessories``) and one per noun
  (``kettles``, ``mugs``, ...) below them; 3 rule-based collections.
* Product ``i`` (``<adjective>-<noun>-<i:06d>``): title, status (active, some draft and
  archived), description, vendor, product type, price (EUR/USD/GBP; every fourth with a
  compare-at price), SKU, one image, its noun's category, collections for some, tags,
  attributes, SEO; every third has a size option and three variants with their own SKU,
  price and inventory. ~0.7-1.1 KB of YAML.

``product_spec(i, revision)`` is the spec as a mutation sends it; ``product_yaml(i,
revision)`` the canonical bytes ``encode_manifest`` writes for it (a hand-written emitter for
exactly these shapes, 100x faster than the real encoder; :func:`check_sample` compares the
two and validates the result with ``parse_and_validate``). A ``revision`` > 0 changes the
price, inventory and description, so each upsert is a real change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _catalog

API_VERSION = "gitstore.dev/v1"
CONTENT_VERSION = 1
_ROOTS = ("home", "apparel", "accessories")
_CURRENCIES = ("EUR", "USD", "GBP")
_MATERIALS = ("steel", "cotton", "oak", "ceramic", "wool", "glass", "leather")
COLLECTIONS = {
    "featured": {"field": "tag", "relation": "equals", "condition": "featured"},
    "sale": {"field": "compareAtPrice", "relation": "greaterThan", "condition": "0"},
    "new-arrivals": {"field": "status", "relation": "equals", "condition": "active"},
}


def product_name(index: int) -> str:
    return _catalog.name_of(index)


def path_of(kind: str, name: str) -> str:
    """Where the product puts ``(kind, name)``: the content model's own path function, so
    the benchmarks follow any change of the layout."""
    from gitstore.domain.content.paths import path_for

    return path_for(kind, name)


def product_path(index: int) -> str:
    return path_of("Product", product_name(index))


def layout_fingerprint() -> str:
    """A short hash of sample paths: fixtures built for another layout are not reused."""
    import hashlib

    sample = [product_path(i) for i in (0, 1, 99_999)] + [path_of("Category", "mugs")]
    return hashlib.sha1("\n".join(sample).encode()).hexdigest()[:8]


def _words(index: int) -> tuple[str, str, str]:
    adjective, noun, _ = product_name(index).split("-")
    return adjective, noun, _catalog._BRANDS[index % len(_catalog._BRANDS)]


def category_names() -> list[str]:
    return [*_ROOTS, *(f"{noun}s" for noun in _catalog._NOUNS)]


def _money(cents: int, currency: str) -> dict[str, str]:
    return {"amount": f"{cents // 100}.{cents % 100:02d}", "currency": currency}


def product_spec(index: int, revision: int = 0) -> dict[str, Any]:
    adjective, noun, brand = _words(index)
    currency = _CURRENCIES[index % len(_CURRENCIES)]
    cents = 499 + (index * 37 + revision * 101) % 20000
    status = "draft" if index % 10 == 7 else "archived" if index % 25 == 3 else "active"
    spec: dict[str, Any] = {
        "title": f"{adjective.title()} {noun.title()} {index}",
        "status": status,
        "description": f"A {adjective} {noun} by {brand.title()}, made to last (rev {revision}).",
        "vendor": brand.title(),
        "productType": noun.title(),
        "price": _money(cents, currency),
    }
    if index % 4 == 0:
        spec["compareAtPrice"] = _money(cents + 1000, currency)
    spec["sku"] = f"SKU-{index:06d}"
    if index % 3 == 0:
        spec["options"] = [{"name": "size", "values": ["S", "M", "L"]}]
        spec["variants"] = [
            {
                "sku": f"SKU-{index:06d}-{size}",
                "options": {"size": size},
                "price": _money(cents + step * 200, currency),
                "inventoryPolicy": "deny",
                "inventoryQuantity": (index * 11 + revision * 3 + step) % 500,
            }
            for step, size in enumerate(("S", "M", "L"))
        ]
    spec["media"] = [
        {
            "url": f"https://cdn.example.com/products/{product_name(index)}.jpg",
            "alt": spec["title"],
            "type": "image",
        }
    ]
    spec["categories"] = [f"{noun}s"]
    collections = [name for name, hit in (("featured", 5), ("sale", 7)) if index % hit == 0]
    if collections:
        spec["collections"] = collections
    spec["tags"] = [adjective, noun] + (["featured"] if index % 5 == 0 else [])
    spec["attributes"] = {
        "material": _MATERIALS[index % len(_MATERIALS)],
        "weightGrams": 100 + (index * 7) % 900,
    }
    spec["seo"] = {
        "title": f"{spec['title']} | {brand.title()}",
        "description": f"Buy the {adjective} {noun} from {brand.title()}.",
    }
    return spec


def product_labels(index: int) -> dict[str, str]:
    return {"brand": _words(index)[2]}


# ----------------------------------------------------------------- canonical YAML emitter
def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    # the shapes generated here: amounts read as numbers, so they are quoted like the encoder
    if text.replace(".", "", 1).isdigit():
        return f"'{text}'"
    return text


def _emit(value: Any, indent: str, lines: list[str]) -> None:
    """Block-style YAML of a mapping (``value``) at ``indent``, appended to ``lines``."""
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{indent}{key}:")
            _emit(item, indent + "  ", lines)
        elif isinstance(item, list):
            lines.append(f"{indent}{key}:")
            for element in item:
                if isinstance(element, dict):
                    sub: list[str] = []
                    _emit(element, indent + "  ", sub)
                    sub[0] = f"{indent}- {sub[0][len(indent) + 2 :]}"
                    lines.extend(sub)
                else:
                    lines.append(f"{indent}- {_scalar(element)}")
        else:
            lines.append(f"{indent}{key}: {_scalar(item)}")


def _manifest_yaml(kind: str, name: str, labels: dict[str, str], spec: dict[str, Any]) -> bytes:
    lines = [f"apiVersion: {API_VERSION}", f"kind: {kind}", "metadata:", f"  name: {name}"]
    if labels:
        lines.append("  labels:")
        lines.extend(f"    {key}: {labels[key]}" for key in sorted(labels))
    lines.append("spec:")
    _emit(spec, "  ", lines)
    return ("\n".join(lines) + "\n").encode()


def _sorted_attributes(spec: dict[str, Any]) -> dict[str, Any]:
    if "attributes" in spec:
        spec = {**spec, "attributes": dict(sorted(spec["attributes"].items()))}
    return spec


def product_yaml(index: int, revision: int = 0) -> bytes:
    spec = _sorted_attributes(product_spec(index, revision))
    return _manifest_yaml("Product", product_name(index), product_labels(index), spec)


def _category(index: int, name: str) -> bytes:
    spec: dict[str, Any] = {"title": name.replace("-", " ").title()}
    if name not in _ROOTS:
        spec["parent"] = _ROOTS[index % len(_ROOTS)]
    spec["description"] = f"Everything in {spec['title'].lower()}."
    spec["sortOrder"] = index
    return _manifest_yaml("Category", name, {}, spec)


def _collection(index: int, name: str) -> bytes:
    spec = {
        "title": name.replace("-", " ").title(),
        "description": f"Our {name.replace('-', ' ')}.",
        "rules": [COLLECTIONS[name]],
        "sortOrder": index,
    }
    return _manifest_yaml("Collection", name, {}, spec)


def files(count: int) -> Iterator[tuple[str, bytes]]:
    """Every file of a repository of ``count`` products (categories and collections first)."""
    for index, name in enumerate(category_names()):
        yield path_of("Category", name), _category(index, name)
    for index, name in enumerate(COLLECTIONS):
        yield path_of("Collection", name), _collection(index, name)
    for index in range(count):
        yield product_path(index), product_yaml(index)


def total_files(count: int) -> int:
    return count + len(category_names()) + len(COLLECTIONS)


CONTENT = _catalog.Layout(f"content-{layout_fingerprint()}-v", CONTENT_VERSION, files, total_files)


def check_sample(indices: list[int], revision: int = 0) -> None:
    """Raise unless each sampled file is valid and byte-identical to ``encode_manifest``'s."""
    from gitstore.domain.content import (
        KindRegistry,
        ManifestFormat,
        encode_manifest,
        parse_and_validate,
    )

    registry = KindRegistry.builtin()
    samples = [(product_path(i), product_yaml(i, revision)) for i in indices]
    samples += [pair for pair in files(0)]
    for path, raw in samples:
        manifest = parse_and_validate(raw, path, registry)
        canonical = encode_manifest(
            manifest, ManifestFormat.YAML, schema=registry.schema_for(manifest)
        )
        if canonical != raw:
            raise RuntimeError(
                f"{path}: generated YAML differs from encode_manifest:\n"
                f"{raw.decode()}\n---- canonical:\n{canonical.decode()}"
            )
