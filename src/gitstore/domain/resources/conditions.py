"""Status and its conditions, following the Kubernetes convention.

``status`` is a JSON object owned by controllers. Two fields have a fixed meaning:

* ``observedGeneration`` (optional, integer >= 0): the spec generation the status describes;
* ``conditions`` (optional): a list of ``{type, status, reason, message, lastTransitionTime,
  observedGeneration}`` with ``type`` unique and non-empty, ``status`` one of ``True``,
  ``False``, ``Unknown``, ``reason`` a CamelCase word (optional), ``message`` free text.

``lastTransitionTime`` is the server's: it keeps the previous value while a condition's
``status`` stays the same and becomes the write's time when it changes (or appears), whatever
the writer sent; so it is only ever moved by a real transition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gitstore.domain.errors import InvalidArgument

from .model import rfc3339

CONDITION_STATUSES = ("True", "False", "Unknown")
_REASON = re.compile(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?")
MAX_MESSAGE = 32 * 1024


def _generation(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"{where} must be an integer >= 0 (got {value!r})", field=where)
    return value


def check_condition(raw: object, index: int) -> dict[str, Any]:
    where = f"status.conditions[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidArgument(f"{where} must be an object", field=where)
    known = {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InvalidArgument(f"{where} has unknown field(s) {unknown}", field=where)
    ctype = raw.get("type")
    if not isinstance(ctype, str) or not ctype.strip():
        raise InvalidArgument(f"{where}.type must be a non-empty string", field=f"{where}.type")
    status = raw.get("status")
    if status not in CONDITION_STATUSES:
        raise InvalidArgument(
            f"{where}.status must be one of {', '.join(CONDITION_STATUSES)} (got {status!r})",
            field=f"{where}.status",
        )
    condition: dict[str, Any] = {"type": ctype, "status": status}
    reason = raw.get("reason", "")
    if reason:
        if not isinstance(reason, str) or not _REASON.fullmatch(reason) or len(reason) > 1024:
            raise InvalidArgument(
                f"{where}.reason {reason!r} must be a CamelCase word (letters, digits, _)",
                field=f"{where}.reason",
            )
        condition["reason"] = reason
    message = raw.get("message", "")
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        raise InvalidArgument(
            f"{where}.message must be a string of at most {MAX_MESSAGE} characters",
            field=f"{where}.message",
        )
    if message:
        condition["message"] = message
    if "observedGeneration" in raw:
        condition["observedGeneration"] = _generation(
            raw["observedGeneration"], f"{where}.observedGeneration"
        )
    return condition


def merge_status(previous: Mapping[str, Any], status: object, now: datetime) -> dict[str, Any]:
    """The status to store when ``status`` is written over ``previous`` (checked, with the
    server's ``lastTransitionTime`` on every condition); ``InvalidArgument`` naming the
    field that is wrong."""
    if not isinstance(status, Mapping):
        raise InvalidArgument("status must be a JSON object", field="status")
    merged = dict(status)
    if "observedGeneration" in merged:
        _generation(merged["observedGeneration"], "status.observedGeneration")
    if "conditions" not in merged:
        return merged
    raw = merged["conditions"]
    if not isinstance(raw, list):
        raise InvalidArgument("status.conditions must be a list", field="status.conditions")
    before = {c.get("type"): c for c in previous.get("conditions") or [] if isinstance(c, Mapping)}
    seen: set[str] = set()
    conditions: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        condition = check_condition(item, index)
        if condition["type"] in seen:
            raise InvalidArgument(
                f"status.conditions has type {condition['type']!r} twice",
                field=f"status.conditions[{index}].type",
            )
        seen.add(condition["type"])
        old = before.get(condition["type"])
        if old is not None and old.get("status") == condition["status"]:
            condition["lastTransitionTime"] = old.get("lastTransitionTime") or rfc3339(now)
        else:
            condition["lastTransitionTime"] = rfc3339(now)
        conditions.append(condition)
    merged["conditions"] = conditions
    return merged
