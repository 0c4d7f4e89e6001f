"""Realistic manifests for the content-model tests (fresh copies on every call)."""

from __future__ import annotations

import copy
from typing import Any

from gitstore.domain.content import Manifest

_PRODUCT: dict[str, Any] = {
    "apiVersion": "gitstore.dev/v1",
    "kind": "Product",
    "metadata": {
        "name": "merino-crew-sweater",
        "labels": {"team": "knitwear", "gitstore.dev/season": "aw25"},
        "annotations": {"notes": "Bestseller; restock before November."},
    },
    "spec": {
        "title": "Merino Crew Sweater",
        "handle": "merino-crew-sweater",
        "status": "active",
        "description": "Soft **extra-fine merino**.\n\n- Machine washable\n- Made in Portugal",
        "vendor": "Northwind Knits",
        "productType": "Sweaters",
        "price": {"amount": "89.00", "currency": "EUR"},
        "compareAtPrice": {"amount": "119.00", "currency": "EUR"},
        "sku": "NW-MCS",
        "options": [
            {"name": "size", "values": ["S", "M", "L"]},
            {"name": "colour", "values": ["navy", "oatmeal"]},
        ],
        "variants": [
            {
                "sku": "NW-MCS-S-NAVY",
                "title": "S / navy",
                "options": {"size": "S", "colour": "navy"},
                "price": {"amount": "89.00", "currency": "EUR"},
                "inventoryPolicy": "deny",
                "inventoryQuantity": 12,
                "barcode": "4006381333931",
                "weight": {"value": "0.35", "unit": "kg"},
            },
            {
                "sku": "NW-MCS-M-NAVY",
                "title": "M / navy",
                "options": {"size": "M", "colour": "navy"},
                "price": {"amount": "89.00", "currency": "EUR"},
                "compareAtPrice": {"amount": "119.00", "currency": "EUR"},
                "inventoryPolicy": "continue",
                "inventoryQuantity": 0,
            },
            {
                "sku": "NW-MCS-L-OAT",
                "options": {"size": "L", "colour": "oatmeal"},
                "price": {"amount": "94.5", "currency": "EUR"},
                "inventoryQuantity": 3,
            },
        ],
        "media": [
            {"url": "https://cdn.example.com/mcs/front.jpg", "alt": "Front", "type": "image"},
            {"url": "media/mcs/360.mp4", "type": "video"},
        ],
        "categories": ["sweaters", "knitwear"],
        "collections": ["autumn-essentials"],
        "tags": ["merino", "bestseller"],
        "attributes": {"material": "100% merino wool", "gsm": 280, "machineWashable": True},
        "seo": {"title": "Merino Crew Sweater | Northwind", "description": "Extra-fine merino."},
    },
}

_CATEGORY: dict[str, Any] = {
    "apiVersion": "gitstore.dev/v1",
    "kind": "Category",
    "metadata": {"name": "sweaters"},
    "spec": {
        "title": "Sweaters",
        "parent": "knitwear",
        "description": "Jumpers, cardigans and crews.",
        "sortOrder": 2,
        "seo": {"title": "Sweaters"},
    },
}

_COLLECTION: dict[str, Any] = {
    "apiVersion": "gitstore.dev/v1",
    "kind": "Collection",
    "metadata": {"name": "autumn-essentials"},
    "spec": {
        "title": "Autumn Essentials",
        "description": "Hand-picked for colder days.",
        "products": ["merino-crew-sweater"],
    },
}

_RULE_COLLECTION: dict[str, Any] = {
    "apiVersion": "gitstore.dev/v1",
    "kind": "Collection",
    "metadata": {"name": "under-100"},
    "spec": {
        "title": "Under 100",
        "rules": [
            {"field": "price", "relation": "lessThan", "condition": "100"},
            {"field": "tag", "relation": "equals", "condition": "bestseller"},
        ],
        "appliedDisjunctively": False,
    },
}


def product() -> dict[str, Any]:
    return copy.deepcopy(_PRODUCT)


def category(name: str = "sweaters", parent: str | None = "knitwear") -> dict[str, Any]:
    data = copy.deepcopy(_CATEGORY)
    data["metadata"]["name"] = name
    data["spec"]["title"] = name.title()
    if parent is None:
        del data["spec"]["parent"]
    else:
        data["spec"]["parent"] = parent
    return data


def collection() -> dict[str, Any]:
    return copy.deepcopy(_COLLECTION)


def rule_collection() -> dict[str, Any]:
    return copy.deepcopy(_RULE_COLLECTION)


def manifest(data: dict[str, Any], path: str = "") -> Manifest:
    return Manifest.from_object(data, path)


def tree() -> list[Manifest]:
    """A consistent little catalogue: one product, two categories, two collections."""
    return [
        manifest(product(), "products/merino-crew-sweater.yaml"),
        manifest(category("knitwear", None), "categories/knitwear.yaml"),
        manifest(category("sweaters", "knitwear"), "categories/sweaters.md"),
        manifest(collection(), "collections/autumn-essentials.json"),
        manifest(rule_collection(), "collections/under-100.yaml"),
    ]
