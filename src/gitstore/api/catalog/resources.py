"""``CatalogResource``: one catalogue resource as the generated GraphQL types read it.

The KV projection stores each resource as the JSON document the worker wrote (see
docs/projection.md)::

    {"apiVersion": ..., "kind": "Product", "metadata": {"name", "labels", "annotations"},
     "spec": {...}, "path": "products/<name>.yaml", "blobId": "<hex>"}

stamped with the commit it came from (``Document.version``). A ``CatalogResource`` wraps that
value with the repository it belongs to, so the envelope fields of every generated type (``id``,
``name``, ``labels``, ``annotations``, ``version``, ``path``, ``spec``) and the spec fields
resolve without further I/O. The mutations module returns the same objects in its payloads.

The one field that needs more than the document is a product's ``collections`` (every
collection it is in, by rule too): a resource read from the KV carries the read it came from
(``membership``, see ``membership.py``), which answers it from the same KV scope; a resource
of a mutation payload has none and answers with its own ``spec.collections``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from gitstore.backends.kv import Document

from .ids import encode_resource_id


class Membership(Protocol):
    """The collections a product of one KV read is in (``membership.CollectionMembership``)."""

    async def collections_of(self, name: str, spec: dict[str, Any]) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class CatalogResource:
    repository: str  # <namespace>/<repo>
    kind: str  # the manifest kind: Product, Category, Collection, or a custom kind
    name: str
    value: dict[str, Any] = field(repr=False)
    version: str  # the commit SHA stamped on the document
    membership: Membership | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_value(
        cls, *, repository: str, kind: str, name: str, value: dict[str, Any], version: str
    ) -> CatalogResource:
        return cls(repository, kind, name, value, version)

    @classmethod
    def from_document(cls, repository: str, document: Document) -> CatalogResource:
        """From a KV document; the manifest kind is taken from the value (``kind``), falling
        back to the capitalised KV kind."""
        value = document.value()
        kind = value.get("kind")
        if not isinstance(kind, str) or not kind:
            kind = document.kind[:1].upper() + document.kind[1:]
        return cls(repository, kind, document.name, value, document.version)

    @property
    def global_id(self) -> str:
        return encode_resource_id(self.kind, self.repository, self.name)

    @property
    def metadata(self) -> dict[str, Any]:
        metadata = self.value.get("metadata")
        return metadata if isinstance(metadata, dict) else {}

    @property
    def labels(self) -> dict[str, Any]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def annotations(self) -> dict[str, Any]:
        annotations = self.metadata.get("annotations")
        return annotations if isinstance(annotations, dict) else {}

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.value.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def path(self) -> str | None:
        path = self.value.get("path")
        return path if isinstance(path, str) else None

    async def collections(self) -> list[str]:
        """The names of the collections this product is in: with ``membership`` (a KV read)
        the evaluated membership, else the names its ``spec.collections`` lists."""
        if self.membership is not None:
            return await self.membership.collections_of(self.name, self.spec)
        named = self.spec.get("collections")
        return sorted({c for c in named if isinstance(c, str)}) if isinstance(named, list) else []
