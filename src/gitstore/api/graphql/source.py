"""Where a GraphQL endpoint other than the global one gets its schema.

``GraphQLEndpoint(services, source)`` (``graphql_http``) asks ``source.select(request,
principal)`` for a :class:`SchemaChoice` once per request, after authenticating the caller: the
schema snapshot it runs on to the end, the document cache for it, and the repository of a store
endpoint (put in the ``RequestContext``). ``select`` may raise a ``GitStoreError`` (e.g.
``NotFound`` for a repository the caller cannot read), answered as a request error with the HTTP
status of its code. The implementation is ``api.storeschema.schemas.StoreSchemas``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from ..identity.principal import Principal
from .execution.documents import DocumentCache
from .holder import SchemaSnapshot


@dataclass(frozen=True, slots=True)
class SchemaChoice:
    snapshot: SchemaSnapshot
    documents: DocumentCache
    repository: str | None = None


class SchemaSource(Protocol):
    async def select(self, request: Request, principal: Principal | None) -> SchemaChoice: ...
