"""Global ids of catalogue resources.

A catalogue resource is identified by (kind, repository, name), so its opaque id is
``base64("gid://GitStore/<Kind>/<namespace>/<repo>/<name>")`` — the Relay id format of the
rest of the API (standard base64, padded), with a three-part raw id. It names no channel: the
same product has the same id in ``draft`` and ``live``, and ``catalog(channel:)`` decides which
state is read. ``decode_resource_id`` accepts unpadded and URL-safe spellings and says exactly
what is wrong with a bad id (``InvalidArgument`` naming the field).

These ids contain ``/`` in their raw part, which ``relay.decode_global_id`` (and so
``node(id:)``) refuses; catalogue resources are fetched through ``catalog { product(id:) }``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.identity import RepositoryId
from gitstore.domain.keys import validate_name

from ..graphql.relay import GID_PREFIX

_KIND = re.compile(r"[A-Z][A-Za-z0-9]*")


@dataclass(frozen=True, slots=True)
class ResourceId:
    kind: str  # the manifest kind, e.g. Product
    repository: str  # <namespace>/<repo>
    name: str  # metadata.name

    def encode(self) -> str:
        return encode_resource_id(self.kind, self.repository, self.name)


def encode_resource_id(kind: str, repository: str, name: str) -> str:
    """The opaque id of resource ``name`` of ``kind`` in ``repository``."""
    return base64.b64encode(f"{GID_PREFIX}{kind}/{repository}/{name}".encode()).decode("ascii")


def decode_resource_id(
    value: object, expected_kind: str | None = None, *, field: str = "id"
) -> ResourceId:
    """Decode an opaque catalogue id; ``InvalidArgument`` naming ``field`` if it is not one
    (or is an id of another kind than ``expected_kind``)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{field} must be a non-empty global ID", field=field)
    text = value.strip()
    shape = f"{field} {value!r} is not a catalogue ID (base64 of gid://GitStore/<Kind>/<namespace>/<repo>/<name>)"
    try:
        padded = text + "=" * (-len(text) % 4)
        plain = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True).decode(
            "utf-8"
        )
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(shape, field=field) from exc
    if not plain.startswith(GID_PREFIX):
        raise InvalidArgument(shape, field=field)
    parts = plain[len(GID_PREFIX) :].split("/")
    if len(parts) != 4 or not _KIND.fullmatch(parts[0]):
        raise InvalidArgument(shape, field=field)
    kind, namespace, repo, name = parts
    try:
        repository = str(RepositoryId.parse(f"{namespace}/{repo}"))
        validate_name(name)
    except InvalidArgument as exc:
        raise InvalidArgument(shape, field=field) from exc
    if expected_kind is not None and kind != expected_kind:
        raise InvalidArgument(
            f"{field} {value!r} is a {kind} ID, not a {expected_kind} ID", field=field
        )
    return ResourceId(kind, repository, name)
