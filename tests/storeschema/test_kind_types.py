"""Kinds' GraphQL types through a real store endpoint: a kind with every JSON Schema
construct of the typegen table, written with ``applyManifests``, projected by the real worker
and read back over HTTP; a definition whose GraphQL names collide is refused as a userError,
and one committed past the checks is served with its collision in ``schemaStatus``."""

from __future__ import annotations

import json
from typing import Any

from gitstore.worker.service import WorkerService
from tests.catalog_reads.test_typegen_table import CONSTRUCTS
from tests.catalog_writes.harness import Stack
from tests.catalog_writes.ops import Person, ok
from tests.catalog_writes.test_custom_kinds import apply, worker
from tests.storeschema.test_store_endpoint import data, eventually, store_query
from tests.worker.harness import commit

__all__ = ["worker"]


def prop(name: str) -> str:
    return "c_" + name.replace("-", "_")


def gadget_kind(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "gitstore.dev/v1",
        "kind": "KindDefinition",
        "metadata": {"name": "gadgets"},
        "spec": {
            "group": "acme.example",
            "names": {"kind": "Gadget", "plural": "gadgets", "singular": "gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"type": "object", "properties": properties},
                }
            ],
        },
    }


def test_every_construct_is_served_by_a_store_endpoint(
    stack: Stack, owner: Person, repo: str, worker: WorkerService
) -> None:
    kind = gadget_kind({prop(c.name): c.schema for c in CONSTRUCTS})
    spec = {prop(c.name): c.value for c in CONSTRUCTS}
    gadget = {
        "apiVersion": "acme.example/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": spec,
    }
    ok(apply(stack, owner, repo, kind, gadget))
    selection = " ".join(f"{prop(c.name)} {c.selection}" for c in CONSTRUCTS)
    query = f'{{ acmeExample(channel: DRAFT) {{ gadget(name: "g") {{ {selection} }} }} }}'

    def read() -> Any:
        return data(store_query(stack, repo, query, owner.token))["acmeExample"]["gadget"]

    served = eventually(read, "the gadget in the store endpoint")
    assert served == {prop(c.name): c.read for c in CONSTRUCTS}
    types = data(
        store_query(
            stack,
            repo,
            '{ __type(name: "Gadget") { fields { name description type { name kind } } } }',
            owner.token,
        )
    )["__type"]["fields"]
    by_name = {f["name"]: f for f in types}
    for construct in CONSTRUCTS:
        field = by_name[prop(construct.name)]
        if construct.note is not None:
            assert construct.note in field["description"], construct.name
    assert by_name[prop("money")]["type"]["name"] == "Money"
    assert by_name[prop("decimal")]["type"]["name"] == "Decimal"
    assert by_name[prop("datetime")]["type"]["name"] == "DateTime"


CLASH = {"pack size": {"type": "integer"}, "packSize": {"type": "integer"}}
STATUS = "{ schemaStatus { kinds problems { kind version pointer message } } }"


def test_colliding_names_are_refused_by_mutations_and_reported_by_schema_status(
    stack: Stack, owner: Person, repo: str
) -> None:
    result = apply(stack, owner, repo, gadget_kind(CLASH))
    assert not result["committed"]
    [error] = result["userErrors"]
    assert "GraphQL names of kind Gadget (v1) collide at #/properties/packSize" in error["message"]
    # committed past the checks (e.g. before they existed): served, and reported
    raw = json.dumps(gadget_kind(CLASH)).encode()
    stack.api.run(commit(stack.api.services.git(), repo, {"kinds/gadgets.json": raw}))

    def status() -> Any:
        found = data(store_query(stack, repo, STATUS, owner.token))["schemaStatus"]
        return found if found["kinds"] == ["Gadget"] else None

    found = eventually(status, "the kind served")
    [problem] = found["problems"]
    assert problem["kind"] == "Gadget" and problem["version"] == "v1"
    assert problem["pointer"] == "#/properties/packSize"
    assert "field name packSize is already used by #/properties/pack size" in problem["message"]
    fields = data(
        store_query(stack, repo, '{ __type(name: "Gadget") { fields { name } } }', owner.token)
    )["__type"]["fields"]
    assert {"packSize", "packSize_2"} <= {f["name"] for f in fields}
