"""A kind's status schema: validating status writes, and the status fields storefronts see.

A kind version may declare ``statusSchema`` (JSON Schema draft 2020-12, ``"type": "object"``)
beside its spec ``schema``; status writes are validated against the hub version's
``statusSchema`` (none: any object; conditions are always checked, ``conditions``).
Top-level status properties marked ``x-gitstore-storefront: true`` are the ones storefronts
may be shown (:func:`storefront_fields`); everything else in status is for controllers and
authenticated readers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitstore.domain.content.schemas import make_validator
from gitstore.domain.errors import InvalidArgument

STOREFRONT_MARK = "x-gitstore-storefront"


def status_errors(schema: Mapping[str, Any] | None, status: Mapping[str, Any]) -> list[str]:
    """Every problem of ``status`` against ``schema`` as ``status.<path>: <message>``."""
    if schema is None:
        return []
    validator = make_validator(schema)
    out: list[str] = []
    for error in sorted(validator.iter_errors(status), key=lambda e: list(e.absolute_path)):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        out.append(f"status{path}: {error.message}")
    return out


def check_status(kind: str, schema: Mapping[str, Any] | None, status: Mapping[str, Any]) -> None:
    """``InvalidArgument`` listing what is wrong with a status write of ``kind``."""
    problems = status_errors(schema, status)
    if problems:
        raise InvalidArgument(
            f"status of {kind} does not match its statusSchema: " + "; ".join(problems[:10]),
            field="status",
        )


def storefront_fields(schema: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The top-level status properties marked ``x-gitstore-storefront: true``."""
    if schema is None:
        return ()
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return ()
    return tuple(
        sorted(
            name
            for name, sub in props.items()
            if isinstance(sub, Mapping) and sub.get(STOREFRONT_MARK) is True
        )
    )


def storefront_status(
    schema: Mapping[str, Any] | None, status: Mapping[str, Any]
) -> dict[str, Any]:
    """The part of ``status`` storefronts may see."""
    return {k: status[k] for k in storefront_fields(schema) if k in status}
