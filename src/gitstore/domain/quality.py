"""Catalogue-quality fixes a machine can compute without guessing (pure; the ``quality``
controller proposes them as change requests, docs/controllers.md "AI controllers").

``quality_fixes(name, spec, category_title=..., taken_handles=...)`` returns the fixes of one
Product's ``spec`` (each with the reason a reviewer reads); ``apply_fixes`` the spec with them
applied. Deterministic: the same spec (and category title, and handles of the other products)
always gives the same fixes, so a proposal's digest identifies it.

* ``spec.seo.title`` when missing: the title, with ``" | <category title>"`` when the product
  has a category (at most 70 characters);
* ``spec.seo.description`` when missing: the description's first sentences as plain text (at
  most 160 characters), else ``"<title> in <category title>."``;
* ``spec.handle`` when missing and the slug of the title differs from ``metadata.name`` (the
  URL would not follow the title), or when invalid: the slug of the title (lowercase ASCII
  words joined by ``-``), unless another product already uses it;
* ``spec.compareAtPrice`` (the product's and each variant's) at or below the price it is
  compared with (it shows no saving): removed.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

SEO_TITLE_MAX = 70
SEO_DESCRIPTION_MAX = 160
HANDLE_MAX = 255
HANDLE_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
REMOVE: Any = None  # a fix whose value is REMOVE deletes the field


@dataclass(frozen=True, slots=True)
class Fix:
    """Set ``path`` (keys and list indexes under ``spec``) to ``value`` (``REMOVE``: delete)."""

    path: tuple[str | int, ...]
    value: Any
    reason: str

    @property
    def field(self) -> str:
        out = "spec"
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out


def slugify(text: str) -> str:
    """``"Blue T-Shirt (XL)"`` -> ``"blue-t-shirt-xl"``; ``""`` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    slug = "-".join(words)[:HANDLE_MAX]
    return slug.strip("-")


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-|")
    return cut + "…"


def _plain(markdown: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", markdown)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links -> their text
    text = re.sub(r"^\s{0,3}(#+|[-*+>]|\d+\.)\s*", "", text, flags=re.M)  # headings, lists
    text = re.sub(r"[*_`~]+", "", text)
    return " ".join(text.split())


def _amount(money: Any) -> Decimal | None:
    if not isinstance(money, dict):
        return None
    try:
        return Decimal(str(money.get("amount")))
    except (InvalidOperation, ValueError):
        return None


def _compare_at_fix(
    holder: dict[str, Any], price: Any, path: tuple[str | int, ...], what: str
) -> Fix | None:
    compare_at, amount = _amount(holder.get("compareAtPrice")), _amount(price)
    if compare_at is None or amount is None or compare_at > amount:
        return None
    return Fix(
        (*path, "compareAtPrice"),
        REMOVE,
        f"{what}: compare-at price {compare_at} is not above the price {amount}, so it shows "
        "no saving; removed",
    )


def quality_fixes(
    name: str,
    spec: dict[str, Any],
    *,
    category_title: str | None = None,
    taken_handles: Collection[str] = (),
) -> list[Fix]:
    """The fixes of one product (empty: nothing to propose). ``category_title`` is the title
    of its first category; ``taken_handles`` the effective handles of the *other* products."""
    fixes: list[Fix] = []
    title = spec.get("title")
    title = title.strip() if isinstance(title, str) else ""
    found = spec.get("seo")
    seo: dict[str, Any] = found if isinstance(found, dict) else {}
    if title and not seo.get("title"):
        value = f"{title} | {category_title}" if category_title else title
        fixes.append(
            Fix(
                ("seo", "title"),
                _shorten(value, SEO_TITLE_MAX),
                "missing SEO title: made from the title"
                + (" and the category" if category_title else ""),
            )
        )
    if title and not seo.get("description"):
        body = spec.get("description")
        plain = _plain(body) if isinstance(body, str) else ""
        if plain:
            value, why = plain, "the description's first sentences"
        else:
            value = f"{title} in {category_title}." if category_title else f"{title}."
            why = "the title" + (" and the category" if category_title else "")
        fixes.append(
            Fix(
                ("seo", "description"),
                _shorten(value, SEO_DESCRIPTION_MAX),
                f"missing SEO description: made from {why}",
            )
        )
    handle = spec.get("handle")
    slug = slugify(title)
    if slug and slug not in taken_handles:
        if handle is None and slug != name:
            fixes.append(
                Fix(
                    ("handle",),
                    slug,
                    f"no handle: the URL uses the file name {name!r}; proposed the title's slug",
                )
            )
        elif handle is not None and (not isinstance(handle, str) or not HANDLE_RE.match(handle)):
            fixes.append(Fix(("handle",), slug, f"invalid handle {handle!r}: the title's slug"))
    fix = _compare_at_fix(spec, spec.get("price"), (), "product")
    if fix is not None:
        fixes.append(fix)
    variants = spec.get("variants")
    for index, variant in enumerate(variants if isinstance(variants, list) else []):
        if isinstance(variant, dict):
            price = variant.get("price") or spec.get("price")
            what = f"variant {variant.get('sku', index)}"
            fix = _compare_at_fix(variant, price, ("variants", index), what)
            if fix is not None:
                fixes.append(fix)
    return fixes


def apply_fixes(spec: dict[str, Any], fixes: list[Fix]) -> dict[str, Any]:
    """A copy of ``spec`` with ``fixes`` applied (missing mappings on the way are created)."""
    out = copy.deepcopy(spec)
    for fix in fixes:
        node: Any = out
        for part in fix.path[:-1]:
            if isinstance(part, str) and not isinstance(node.get(part), dict | list):
                node[part] = {}
            node = node[part]
        last = fix.path[-1]
        if fix.value is REMOVE:
            node.pop(last, None)
        else:
            node[last] = fix.value
    return out
