"""The catalogue-quality fixes (pure): what is proposed, and what is left alone."""

from __future__ import annotations

from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.validation import validate_manifest
from gitstore.domain.quality import REMOVE, apply_fixes, quality_fixes, slugify

EUR = "EUR"


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": EUR}


def test_slugify() -> None:
    assert slugify("Blue T-Shirt (XL)") == "blue-t-shirt-xl"
    assert slugify("Crème Brûlée — 2 pack") == "creme-brulee-2-pack"
    assert slugify("!!!") == ""


def test_seo_from_title_category_and_description() -> None:
    fixes = quality_fixes("tee", {"title": "Tee"}, category_title="Shirts")
    assert [(f.field, f.value) for f in fixes] == [
        ("spec.seo.title", "Tee | Shirts"),
        ("spec.seo.description", "Tee in Shirts."),
    ]
    body = "# Soft\n\nA **soft** [cotton](https://x.test) tee. " + "Very long words " * 20
    [_, description] = quality_fixes("tee", {"title": "Tee", "description": body})
    assert description.value.startswith("Soft A soft cotton tee.")
    assert len(description.value) <= 160 and description.value.endswith("…")
    complete = {"title": "Tee", "seo": {"title": "T", "description": "D"}}
    assert quality_fixes("tee", complete) == []


def test_handle_only_when_the_url_would_not_follow_the_title() -> None:
    seo = {"title": "T", "description": "D"}
    [fix] = quality_fixes("sku-123", {"title": "Blue Tee", "seo": seo})
    assert (fix.field, fix.value) == ("spec.handle", "blue-tee")
    assert quality_fixes("blue-tee", {"title": "Blue Tee", "seo": seo}) == []
    taken = quality_fixes("sku-123", {"title": "Blue Tee", "seo": seo}, taken_handles={"blue-tee"})
    assert taken == []
    [bad] = quality_fixes("x", {"title": "Blue Tee", "handle": "Bad Handle", "seo": seo})
    assert bad.value == "blue-tee" and "invalid handle" in bad.reason


def test_compare_at_prices_not_above_the_price_are_removed() -> None:
    spec = {
        "title": "Tee",
        "seo": {"title": "T", "description": "D"},
        "price": money("20"),
        "compareAtPrice": money("20.00"),
        "variants": [
            {"sku": "A", "compareAtPrice": money("25")},  # above the product price: kept
            {"sku": "B", "price": money("30"), "compareAtPrice": money("29.99")},
        ],
    }
    fixes = quality_fixes("tee", spec)
    assert [(f.path, f.value) for f in fixes] == [
        (("compareAtPrice",), REMOVE),
        (("variants", 1, "compareAtPrice"), REMOVE),
    ]
    fixed = apply_fixes(spec, fixes)
    assert "compareAtPrice" not in fixed and "compareAtPrice" not in fixed["variants"][1]
    assert fixed["variants"][0]["compareAtPrice"] == money("25")
    assert spec["compareAtPrice"] == money("20.00")  # the input is not changed
    assert quality_fixes("tee", fixed) == []


def test_fixed_products_are_valid() -> None:
    spec = {"title": "Über Tee " * 20, "categories": ["shirts"], "price": money("5")}
    fixed = apply_fixes(spec, quality_fixes("x", spec, category_title="Shirts"))
    assert validate_manifest(Manifest("gitstore.dev/v1", "Product", "x", fixed)) == []
    assert len(fixed["seo"]["title"]) <= 70 and fixed["handle"].startswith("uber-tee-uber")
