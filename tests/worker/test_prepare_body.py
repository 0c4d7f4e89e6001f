"""``prepare_file`` encodes the body first and lets the text rule read it (issue 16).

The result must be exactly what the path before it gives: ``parse_file`` (parse and validate,
the text rule writing its own JSON text), then ``encode_upsert`` of the valid manifest with
the ``json`` writer. Checked on valid manifests of every built-in kind in YAML, JSON and
Markdown, on values where ``orjson`` and ``json`` spell numbers differently (tiny and huge
floats, integers past 64 bits, nulls), on refused characters (control characters escaped in
JSON manifests), and on invalid files (syntax, envelope, path, schema, product rules).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gitstore.backends.kv import encode_upsert
from gitstore.domain.content import (
    KindRegistry,
    Manifest,
    ManifestFormat,
    encode_manifest,
    identity_for_path,
)
from gitstore.domain.content.files import parse_file
from gitstore.worker.parsing import Prepared, prepare_file, prepare_many, upsert_args
from tests.domain import samples

REGISTRY = KindRegistry.builtin()


def reference(path: str, blob_id: str, content: bytes) -> Prepared:
    """The path before issue 16's change: parse_file, then encode_upsert with json."""
    parsed = parse_file(path, blob_id, content, REGISTRY)
    if parsed.manifest is None:
        return Prepared(path, blob_id, None, parsed.errors)
    kind, name, value, indexes = upsert_args(parsed)
    return Prepared(path, blob_id, encode_upsert(kind, name, value, indexes=indexes))


def product(**spec: Any) -> dict[str, Any]:
    data = copy.deepcopy(samples.product())
    data["spec"].update(spec)
    return data


def files() -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    objects = [samples.product(), samples.category(), samples.category("root", None)]
    objects += [samples.collection(), samples.rule_collection()]
    objects += [
        product(attributes={"weight": 1e-5, "ratio": 2.5e-7, "big": 1e16, "n": 2**70}),
        product(attributes={"weight": 0.25, "none": None, "flag": True}),
        product(attributes={"note": "null e-5 1e+3 0.00001", "x": -0.0}),
        product(description="ü ✓ 🎉 \u2028 tab\there"),
    ]
    for obj in objects:
        manifest = Manifest.from_object(obj)
        for fmt in ManifestFormat:
            path = f"{manifest_dir(manifest)}/{manifest.name}{fmt.extension}"
            schema = REGISTRY.schema_for(manifest)
            out.append((path, encode_manifest(manifest, fmt, schema=schema)))
    name = samples.product()["metadata"]["name"]
    good = json.dumps(samples.product())
    at = f"products/{name}.json"
    for bad in ("\\u0001", "\\u007f", "\\u0085", "\\ud800", "\\b", "\\f"):
        title = good.replace('"title": "', f'"title": "x{bad}', 1)
        note = good.replace('"metadata": {', f'"metadata": {{"annotations": {{"n": "{bad}"}},', 1)
        out += [(at, title.encode()), (at, note.encode())]
    twice = [{"name": "a", "values": ["x"]}] * 2
    out += [
        (f"products/{name}.yaml", b"apiVersion: v1\nkind: Product\nmetadata:\n  name: [\n"),
        (f"products/{name}.yaml", b"kind: Product\nmetadata:\n  name: x\nspec: {}\n"),
        ("products/other-name.json", good.encode()),
        ("nowhere/x.json", good.encode()),
        (at, json.dumps(product(price={"amount": "-1"})).encode()),
        (at, json.dumps(product(options=twice)).encode()),
    ]
    return out


def manifest_dir(manifest: Manifest) -> str:
    definition = REGISTRY.find(manifest.kind)
    assert definition is not None
    return definition.plural


@pytest.mark.parametrize("index", range(len(files())))
def test_prepare_file_equals_parse_then_encode(index: int) -> None:
    path, content = files()[index]
    blob_id = f"{index:040x}"
    assert prepare_file(path, blob_id, content, REGISTRY) == reference(path, blob_id, content)


def test_the_cases_cover_valid_and_invalid_files() -> None:
    results = [prepare_file(p, f"{i:040x}", c, REGISTRY) for i, (p, c) in enumerate(files())]
    assert sum(r.upsert is not None for r in results) >= 20
    rules = {e.rule for r in results for e in r.errors}
    assert {"invalid-character", "yaml-syntax", "identity-mismatch"} <= rules, rules


@pytest.mark.parametrize("index", range(len(files())))
def test_the_plans_identity_gives_the_same_result(index: int) -> None:
    """The worker's plan hands each file's path identity to validation (``identity=``):
    what comes out — the upsert, or every error, the identity rule's included — is what
    computing it again gives."""
    path, content = files()[index]
    blob_id = f"{index:040x}"
    known = identity_for_path(path, REGISTRY)
    got = prepare_file(path, blob_id, content, REGISTRY, identity=known)
    assert got == reference(path, blob_id, content)
    many = prepare_many([(path, blob_id, content)], REGISTRY, identities=[known])
    assert many == [got]


def test_a_mismatched_identity_is_still_reported() -> None:
    name = samples.product()["metadata"]["name"]
    content = json.dumps(samples.product()).encode()
    path = "products/other-name.json"
    got = prepare_file(path, "0" * 40, content, REGISTRY, identity=identity_for_path(path))
    assert got.upsert is None
    assert [e.rule for e in got.errors] == ["identity-mismatch"]
    assert name in got.errors[0].message


def test_identities_must_match_the_files() -> None:
    path, content = files()[0]
    with pytest.raises(ValueError, match="2 identities for 1 files"):
        prepare_many([(path, "0" * 40, content)], REGISTRY, identities=[None, None])
