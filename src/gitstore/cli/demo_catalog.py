"""The demo catalogue: a realistic shop generated deterministically from a seed.

``build_catalog(products=400, seed=7)`` returns the manifests ``gitstore demo`` loads: 21
categories (5 departments, 16 leaves), 8 collections (3 manual, 5 rule-based) and the
products, as ``applyManifests`` inputs (``{"format": ..., "manifest": {...}}``). No network,
no clock: the same arguments give the same manifests, byte for byte.

Design notes:

* **Prefix-stable.** Product ``i`` depends only on ``(seed, i)`` and on how many products of
  its category came before it, so ``--products 500`` extends ``--products 400`` instead of
  rewriting it; a rerun with a larger count adds products. Manual collections are drawn from
  the whole set and do change with the count.
* **Valid by construction** against the built-in schemas and product rules (one currency per
  product, variants set every declared option, unique SKUs); the generator's tests validate
  every manifest and the cross-file checks (references, unique handles and SKUs).
* **Rule-based collections** are evaluated by the projection (``worker/collections.py``):
  storefront reads find their members without help. Each product still names the rule-based
  collections whose rules it satisfies in ``spec.collections`` (the same evaluation,
  ``domain.content.rules``; redundant for reads, but it makes membership visible in the
  files themselves); manual collections list their products in ``spec.products``.
* Products are Markdown files (the description is the body), categories YAML, collections
  Markdown; prices are exact decimal strings in EUR or USD (by vendor).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from gitstore.domain.content.rules import matches

from .demo_data import (
    ADJECTIVES,
    BED_SIZES,
    CARE,
    COLOURS,
    DEPARTMENTS,
    FEATURES,
    LEAVES,
    MANUAL_COLLECTIONS,
    MEDIA_BASE,
    RULE_COLLECTIONS,
    SHOE_SIZES,
    SHOP,
    SIZES,
    TAGS,
    TEXTILE_FEATURES,
    VENDORS,
    VENDORS_BY_DEPARTMENT,
    Leaf,
)

API_VERSION = "gitstore.dev/v1"
MAX_PRODUCTS = 5000
_CENTS = ("00", "50", "90", "95", "99")


@dataclass(frozen=True, slots=True)
class DemoCatalog:
    categories: list[dict[str, Any]]
    collections: list[dict[str, Any]]
    products: list[dict[str, Any]]

    def inputs(self) -> list[dict[str, Any]]:
        """``ManifestInput``s in load order: categories, products, then collections."""
        return (
            [{"format": "YAML", "manifest": m} for m in self.categories]
            + [{"format": "MARKDOWN", "manifest": m} for m in self.products]
            + [{"format": "MARKDOWN", "manifest": m} for m in self.collections]
        )


def build_catalog(products: int = 400, seed: int = 7) -> DemoCatalog:
    if not 1 <= products <= MAX_PRODUCTS:
        raise ValueError(f"products must be between 1 and {MAX_PRODUCTS}, got {products}")
    per_leaf: Counter[str] = Counter()
    items = []
    for index in range(products):
        rng = _rng(seed, index)
        leaf = rng.choices(LEAVES, weights=[leaf.share for leaf in LEAVES])[0]
        items.append(_product(rng, seed, index, leaf, per_leaf[leaf.name]))
        per_leaf[leaf.name] += 1
    return DemoCatalog(_categories(), _collections(items, seed), items)


def _rng(seed: int, part: object) -> random.Random:
    """A generator seeded by a string: the same on every run and platform."""
    return random.Random(f"gitstore-demo:{seed}:{part}")  # noqa: S311 - sample data


def _manifest(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _categories() -> list[dict[str, Any]]:
    out = []
    for order, dept in enumerate(DEPARTMENTS):
        spec = {
            "title": dept.title,
            "description": dept.description,
            "sortOrder": order,
            "seo": {"title": f"{dept.title} | {SHOP}", "description": dept.description},
        }
        out.append(_manifest("Category", dept.name, spec))
    for order, leaf in enumerate(LEAVES):
        spec = {
            "title": leaf.title,
            "parent": leaf.parent,
            "description": leaf.description,
            "sortOrder": order,
            "seo": {"title": f"{leaf.title} | {SHOP}", "description": leaf.description},
        }
        out.append(_manifest("Category", leaf.name, spec, labels={"department": leaf.parent}))
    return out


def _title(seed: int, leaf: Leaf, position: int) -> tuple[str, str, str]:
    """Title, material and noun of the ``position``-th product of a leaf: a seeded
    permutation of adjective x material x noun, then the same again marked "Mk 2", ..."""
    combos = [(a, m, n) for a in ADJECTIVES for m in leaf.materials for n in leaf.nouns]
    _rng(seed, leaf.name).shuffle(combos)
    adjective, material, noun = combos[position % len(combos)]
    round_ = position // len(combos)
    title = f"{adjective} {material} {noun}" + (f" Mk {round_ + 1}" if round_ else "")
    return title, material, noun


def _money(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def _product(rng: random.Random, seed: int, index: int, leaf: Leaf, position: int) -> Any:
    title, material, noun = _title(seed, leaf, position)
    name = slug(title)
    vendor = rng.choice(VENDORS_BY_DEPARTMENT[leaf.parent])
    currency, country = VENDORS[vendor]
    price = f"{rng.randint(*leaf.price)}.{rng.choice(_CENTS)}"
    roll = rng.random()
    status = "active" if roll < 0.84 else "draft" if roll < 0.95 else "archived"
    sku = f"NW-{leaf.code}-{index + 1:04d}"
    grams = rng.randint(*leaf.weight)
    organic = "Organic" in material or "Linen" in material
    tags = sorted(
        {leaf.name, *rng.sample(TAGS, rng.randint(0, 2))}
        | ({"new"} if rng.random() < 0.15 else set())
        | ({"organic"} if organic else set())
    )
    options, variants, colours = _variants(rng, leaf, sku, price, currency, grams)
    textile = leaf.options in ("apparel", "bedding") or leaf.name in ("hats", "scarves")
    features = rng.sample(FEATURES + (TEXTILE_FEATURES if textile else ()), 3)
    care = rng.choice(CARE[leaf.parent])
    made = material.lower() if leaf.trait == "material" else f"our {material.lower()} range"
    intro = rng.choice(
        (
            f"The {title} is our take on the {noun.lower()}, made for everyday use.",
            f"A {noun.lower()} from {vendor}, built to last for years.",
            f"Simple, honest and hard-wearing: the {noun.lower()} as it should be.",
        )
    )
    intro += f" In **{made}**."
    description = "\n".join(
        [intro, "", *(f"- {feature}" for feature in features), "", "## Care", "", care]
    )
    spec: dict[str, Any] = {
        "title": title,
        "handle": name,
        "status": status,
        "description": description,
        "vendor": vendor,
        "productType": leaf.product_type,
        "price": _money(price, currency),
    }
    if rng.random() < 0.25:
        markup = Decimal(rng.choice(("1.2", "1.3", "1.4", "1.5")))
        compare = max(Decimal(price) * markup, Decimal(price) + 5)
        spec["compareAtPrice"] = _money(f"{compare.to_integral_value(ROUND_CEILING)}.00", currency)
    spec["sku"] = sku
    if options:
        spec["options"] = options
        spec["variants"] = variants
    spec["media"] = [
        {
            "url": f"{MEDIA_BASE}/products/{name}/{n + 1}.jpg",
            "alt": f"{title} in {colour}" if colour else title,
            "type": "image",
        }
        for n, colour in enumerate((colours or [""])[: rng.randint(1, 3)])
    ]
    spec["categories"] = [leaf.name, leaf.parent]
    spec["tags"] = tags
    attributes: dict[str, Any] = {
        leaf.trait: material,
        "origin": country,
        "care": care,
        "weightGrams": grams,
        "organic": organic,
    }
    if leaf.options == "apparel":
        attributes["fit"] = rng.choice(("regular", "relaxed", "slim"))
    spec["attributes"] = attributes
    spec["seo"] = {"title": f"{title} | {SHOP}", "description": intro.replace("**", "")}
    rule_collections = [name_ for name_, *_ in RULE_COLLECTIONS if _matches(spec, name_)]
    if rule_collections:
        spec["collections"] = rule_collections
    labels = {"department": leaf.parent, "vendor": slug(vendor)}
    return _manifest("Product", name, spec, labels=labels)


def _variants(
    rng: random.Random, leaf: Leaf, sku: str, price: str, currency: str, grams: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Options, variants and the colours chosen (empty for products without options)."""
    if leaf.options == "none":
        return [], [], []
    if leaf.options == "apparel":
        start = rng.randint(0, 2)
        sizes: tuple[str, ...] = SIZES[start : start + rng.randint(3, 4)]
    elif leaf.options == "shoes":
        start = rng.randint(0, 3)
        sizes = SHOE_SIZES[start : start + rng.randint(4, 6)]
    elif leaf.options == "bedding":
        sizes = BED_SIZES
    else:
        sizes = ()
    colours = rng.sample(COLOURS, rng.randint(1, 2 if sizes else 4))
    options = [{"name": "size", "values": list(sizes)}] if sizes else []
    options.append({"name": "colour", "values": colours})
    variants = []
    for colour in colours:
        for size in sizes or (None,):
            chosen = {"colour": colour} if size is None else {"size": size, "colour": colour}
            code = f"{colour[:3].upper()}" + (f"-{size.upper()}" if size else "")
            variant: dict[str, Any] = {
                "sku": f"{sku}-{code}",
                "title": " / ".join(v for v in (colour, size) if v),
                "options": chosen,
                "inventoryPolicy": "continue" if rng.random() < 0.1 else "deny",
                "inventoryQuantity": rng.randint(0, 80),
                "barcode": f"{rng.randrange(10**12, 10**13)}",
                "weight": {"value": f"{grams / 1000:.3f}", "unit": "kg"},
            }
            if size in ("XXL", "King"):
                variant["price"] = _money(str(Decimal(price) + 5), currency)
            variants.append(variant)
    return options, variants, colours


def _matches(spec: dict[str, Any], collection: str) -> bool:
    """Whether a product spec satisfies a rule-based collection of ``RULE_COLLECTIONS``."""
    _, _, _, rules, any_rule = next(c for c in RULE_COLLECTIONS if c[0] == collection)
    return matches(_rule_spec(rules, any_rule), spec)


def _rule_spec(rules: tuple[tuple[str, str, str], ...], any_rule: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rules": [{"field": f, "relation": r, "condition": c} for f, r, c in rules]
    }
    if any_rule:
        spec["appliedDisjunctively"] = True
    return spec


def _collections(products: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    out = []
    for order, (name, title, description, rules, any_rule) in enumerate(RULE_COLLECTIONS):
        spec: dict[str, Any] = {
            "title": title,
            "description": description,
            "rules": [{"field": f, "relation": r, "condition": c} for f, r, c in rules],
            "sortOrder": order,
            "seo": {"title": f"{title} | {SHOP}", "description": description},
        }
        if any_rule:
            spec["appliedDisjunctively"] = True
        out.append(_manifest("Collection", name, spec))
    for order, manual in enumerate(MANUAL_COLLECTIONS, start=len(RULE_COLLECTIONS)):
        candidates = [
            p["metadata"]["name"]
            for p in products
            if p["spec"]["status"] == "active"
            and (not manual.categories or p["spec"]["categories"][0] in manual.categories)
        ]
        rng = _rng(seed, manual.name)
        chosen = rng.sample(candidates, min(manual.size, len(candidates)))
        spec = {
            "title": manual.title,
            "description": manual.description,
            "products": chosen,
            "sortOrder": order,
            "seo": {"title": f"{manual.title} | {SHOP}", "description": manual.description},
        }
        out.append(_manifest("Collection", manual.name, spec))
    return out
