"""The rules of every resource change, as pure planning functions (no I/O).

A backend reads what a write touches (the repository's current resourceVersion and the
stored resources of the keys involved), calls one of these, and persists the :class:`Plan`
in one transaction: the resources to put and to remove, the changes to log and the
repository's new version. The rules:

* every change of a resource (spec, labels/annotations, status, finalizers, deletion) takes
  the repository's next resourceVersion, which becomes the resource's ``resourceVersion``;
  a write that changes nothing takes none;
* ``generation`` starts at 1 and grows only when ``spec`` changes; ``status`` is never
  touched by a spec write;
* a spec delete of a resource without finalizers removes it (``DELETED``); with finalizers it
  sets ``deletionTimestamp`` (``MODIFIED``) and the resource goes when a metadata write
  removes the last finalizer. A spec upsert of a resource being deleted brings it back
  (Git is the source of intent): ``deletionTimestamp`` is cleared;
* status and metadata writes carry the resourceVersion the writer read; any other stored
  value is a :class:`~gitstore.domain.resources.model.Conflict` and nothing changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from gitstore.domain.errors import InvalidArgument, NotFound

from .conditions import merge_status
from .model import Conflict, Resource, SpecDelete, SpecUpsert, check_name, kind_key
from .watch import ChangeType, ResourceChange

Key = tuple[str, str]  # (kind_key, name)


@dataclass(slots=True)
class Plan:
    repository_id: str
    version: int  # the repository's resourceVersion after the plan
    puts: dict[Key, Resource] = field(default_factory=dict)
    removes: dict[Key, Resource] = field(default_factory=dict)
    changes: list[ResourceChange] = field(default_factory=list)
    result: Resource | None = None  # the resource a single-resource write leaves

    def record(
        self, resource: Resource, change: ChangeType, before: Resource | None = None
    ) -> Resource:
        """Give ``resource`` the next resourceVersion and log the change (``before``: the
        resource before it, whose labels the change records when they differ)."""
        self.version += 1
        stamped = replace(resource, resource_version=self.version)
        if change == "DELETED":
            self.removes[stamped.key] = stamped
            self.puts.pop(stamped.key, None)
        else:
            self.puts[stamped.key] = stamped
            self.removes.pop(stamped.key, None)
        self.changes.append(
            ResourceChange(
                self.repository_id,
                self.version,
                change,
                stamped.kind,
                stamped.name,
                stamped.to_object(),
                previous_labels=(
                    dict(before.labels)
                    if before is not None and dict(before.labels) != dict(stamped.labels)
                    else None
                ),
            )
        )
        self.result = stamped
        return stamped

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def batch_keys(upserts: Sequence[SpecUpsert], deletes: Sequence[SpecDelete]) -> list[Key]:
    """The keys a batch touches; ``InvalidArgument`` if one appears twice."""
    keys: list[Key] = []
    seen: set[Key] = set()
    items: list[SpecUpsert | SpecDelete] = [*upserts, *deletes]
    for item in items:
        key = (kind_key(item.kind), check_name(item.name))
        if key in seen:
            raise InvalidArgument(
                f"{item.kind}/{item.name} appears twice in one batch", field="resources"
            )
        seen.add(key)
        keys.append(key)
    return keys


def _check_upsert(item: SpecUpsert) -> None:
    if not isinstance(item.spec, Mapping):
        raise InvalidArgument(f"spec of {item.kind}/{item.name} must be an object", field="spec")


def plan_apply(
    repository_id: str,
    version: int,
    existing: Mapping[Key, Resource],
    upserts: Sequence[SpecUpsert],
    deletes: Sequence[SpecDelete],
    now: datetime,
    new_uid: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Plan:
    """Spec changes of one commit: upserts and deletes (see the module doc)."""
    batch_keys(upserts, deletes)
    plan = Plan(repository_id, version)
    for item in upserts:
        _check_upsert(item)
        key = (kind_key(item.kind), item.name)
        old = existing.get(key)
        spec = dict(item.spec)
        if old is None:
            fresh = Resource(
                repository_id,
                item.kind,
                item.name,
                item.api_version,
                new_uid(),
                0,
                1,
                now,
                spec,
                labels=dict(item.labels),
                annotations=dict(item.annotations),
            )
            plan.record(fresh, "ADDED")
            continue
        spec_changed = old.spec != spec
        updated = replace(
            old,
            kind=item.kind,
            api_version=item.api_version,
            spec=spec,
            labels=dict(item.labels),
            annotations=dict(item.annotations),
            generation=old.generation + (1 if spec_changed else 0),
            deletion_timestamp=None,
        )
        if updated != old:
            plan.record(updated, "MODIFIED", old)
    for gone in deletes:
        old = existing.get((kind_key(gone.kind), gone.name))
        if old is None:
            continue
        if not old.finalizers:
            plan.record(old, "DELETED")
        elif old.deletion_timestamp is None:
            plan.record(replace(old, deletion_timestamp=now), "MODIFIED")
    return plan


def _precondition(old: Resource | None, kind: str, name: str, expected: int, what: str) -> Resource:
    if old is None:
        raise NotFound(f"{kind}/{name} does not exist", field="name")
    if old.resource_version != expected:
        raise Conflict(
            f"{what} of {kind}/{name} expected resourceVersion {expected} but it is "
            f"{old.resource_version}: read it again and retry",
            current=old.resource_version,
        )
    return old


def plan_status(
    repository_id: str,
    version: int,
    existing: Resource | None,
    kind: str,
    name: str,
    expected: int,
    status: object,
    now: datetime,
) -> Plan:
    """Replace the status of one resource, compare-and-set on its resourceVersion."""
    old = _precondition(existing, kind, name, expected, "status update")
    merged = merge_status(old.status, status, now)
    plan = Plan(repository_id, version, result=old)
    if merged != old.status:
        plan.record(replace(old, status=merged), "MODIFIED")
    return plan


@dataclass(frozen=True, slots=True)
class MetadataPatch:
    """Replacement values; None leaves a field as it is."""

    finalizers: Sequence[str] | None = None
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None


def _strings(value: Mapping[str, Any], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise InvalidArgument(f"{what} must map non-empty strings to strings", field=what)
        out[k] = v
    return dict(sorted(out.items()))


def plan_metadata(
    repository_id: str,
    version: int,
    existing: Resource | None,
    kind: str,
    name: str,
    expected: int,
    patch: MetadataPatch,
    now: datetime,
) -> Plan:
    """Replace finalizers / labels / annotations, compare-and-set on the resourceVersion;
    removing the last finalizer of a resource being deleted removes it."""
    old = _precondition(existing, kind, name, expected, "metadata update")
    updated = old
    if patch.finalizers is not None:
        finalizers = list(dict.fromkeys(patch.finalizers))
        if any(not isinstance(f, str) or not f for f in finalizers):
            raise InvalidArgument("finalizers must be non-empty strings", field="finalizers")
        updated = replace(updated, finalizers=tuple(finalizers))
    if patch.labels is not None:
        updated = replace(updated, labels=_strings(patch.labels, "labels"))
    if patch.annotations is not None:
        updated = replace(updated, annotations=_strings(patch.annotations, "annotations"))
    plan = Plan(repository_id, version, result=old)
    if updated.deletion_timestamp is not None and not updated.finalizers:
        plan.record(updated, "DELETED")
    elif updated != old:
        plan.record(updated, "MODIFIED", old)
    return plan


def window_floor(floor: int, version: int, retain: int) -> int:
    """The oldest resourceVersion a watch can resume from after keeping the last ``retain``
    changes (resourceVersions are consecutive: one per change)."""
    return max(floor, version - retain)
