"""A custom kind for tests: ``Brand`` (group ``acme.example``, one version, v1) and its
resources, as a merchant would commit them in ``kinds/`` and ``brands/``."""

from __future__ import annotations

from typing import Any


def brand_kind(required: tuple[str, ...] = ("title",)) -> dict[str, Any]:
    """The ``KindDefinition`` of ``Brand``: ``title`` and ``country`` strings, ``required`` of
    them required."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "country": {"type": "string"}},
    }
    if required:
        schema["required"] = list(required)
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": "brands"},
        "spec": {
            "group": "acme.example",
            "names": {"kind": "Brand", "plural": "brands", "singular": "brand"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
        },
    }


def brand(name: str, **spec: Any) -> dict[str, Any]:
    """A ``Brand`` named ``name``; its spec is ``spec`` or a title made of the name."""
    return {
        "apiVersion": "acme.example/v1",
        "kind": "Brand",
        "metadata": {"name": name},
        "spec": spec or {"title": name.title()},
    }
