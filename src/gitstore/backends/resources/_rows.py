"""Rows of the SQL resource stores (shared by ``sqlite`` and ``postgres``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitstore.domain.resources.model import Resource
from gitstore.domain.resources.rules import Plan
from gitstore.domain.resources.watch import ResourceChange

CHANGE_COLUMNS = "(repository_id, resource_version, type, kind, name, object, previous_labels)"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def resource(repository_id: str, body: str) -> Resource:
    return Resource.from_object(repository_id, json.loads(body))


def change(repository_id: str, row: Mapping[str, Any]) -> ResourceChange:
    return ResourceChange(
        repository_id,
        int(row["resource_version"]),
        row["type"],
        row["kind"],
        row["name"],
        json.loads(row["object"]),
        previous_labels=_labels(row["previous_labels"]),
    )


def _labels(raw: str | None) -> dict[str, str] | None:
    if raw is None:  # rows logged before migration 0002, or labels unchanged
        return None
    found = json.loads(raw)
    return found if isinstance(found, dict) else None


def put_rows(plan: Plan) -> list[tuple[str, str, str, int, str]]:
    return [
        (plan.repository_id, key[0], key[1], r.resource_version, dumps(r.to_object()))
        for key, r in plan.puts.items()
    ]


def remove_rows(plan: Plan) -> list[tuple[str, str, str]]:
    return [(plan.repository_id, key[0], key[1]) for key in plan.removes]


def change_rows(plan: Plan) -> list[tuple[str, int, str, str, str, str, str | None]]:
    return [
        (
            c.repository_id,
            c.resource_version,
            c.type,
            c.kind,
            c.name,
            dumps(c.object),
            None if c.previous_labels is None else dumps(c.previous_labels),
        )
        for c in plan.changes
    ]
