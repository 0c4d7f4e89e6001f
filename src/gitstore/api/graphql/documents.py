"""Parsing and validating GraphQL documents, with a cache per (schema version, query text).

Parsing and validation cost far more than executing a small query, and clients send the same
few query texts over and over, so a validated document is kept in a bounded LRU keyed by the
schema version and the exact query text. Only documents that validated are cached (an invalid
one is cheap to reject again and would only crowd out good ones). A new schema version makes
old entries unreachable; ``clear()`` frees them at once. The cache can be switched off
(``GITSTORE_API__DOCUMENT_CACHE=false``), e.g. to measure what it saves.

Parse errors carry ``extensions.code`` ``GRAPHQL_PARSE_FAILED``, validation errors
``GRAPHQL_VALIDATION_FAILED`` (or the limit's own code, see ``limits``). A document nested so
deeply that the parser runs out of stack is a parse error too, never an internal error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from .holder import SchemaSnapshot
from .limits import limits_rule
from .lru import LRU


class DocumentError(Exception):
    """The query text does not parse or does not validate against the schema."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    snapshot: SchemaSnapshot
    document: DocumentNode

    def operation(self, name: str | None) -> OperationDefinitionNode:
        """The operation to run; a ``GraphQLError`` when ``name`` selects none."""
        operations = [
            d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        if name is None:
            if len(operations) == 1:
                return operations[0]
            raise GraphQLError(
                "the document has several operations; send operationName to pick one",
                extensions={"code": "BAD_REQUEST"},
            )
        for operation in operations:
            if operation.name is not None and operation.name.value == name:
                return operation
        raise GraphQLError(
            f"the document has no operation named {name!r}", extensions={"code": "BAD_REQUEST"}
        )


class DocumentCache:
    def __init__(
        self,
        *,
        enabled: bool,
        capacity: int,
        max_depth: int,
        max_cost: int,
        max_page_size: int,
        max_tokens: int,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self.enabled = enabled
        self._entries: LRU[tuple[int, str], PreparedDocument] = LRU(capacity)
        self._rules = [
            *specified_rules,
            limits_rule(max_depth=max_depth, max_cost=max_cost, max_page_size=max_page_size),
        ]
        self._max_tokens = max_tokens
        self._on_lookup = on_lookup

    def prepare(self, snapshot: SchemaSnapshot, query: str) -> PreparedDocument:
        """A parsed and validated document for ``query``; ``DocumentError`` if it is not one."""
        if not self.enabled:
            return self._prepare(snapshot, query)
        key = (snapshot.version, query)
        cached = self._entries.get(key)
        if self._on_lookup is not None:
            self._on_lookup(cached is not None)
        if cached is not None:
            return cached
        prepared = self._prepare(snapshot, query)
        self._entries.put(key, prepared)
        return prepared

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _prepare(self, snapshot: SchemaSnapshot, query: str) -> PreparedDocument:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as error:
            raise DocumentError([_with_code(error, "GRAPHQL_PARSE_FAILED")]) from None
        except RecursionError:
            raise DocumentError(
                [
                    GraphQLError(
                        "the query is nested too deeply to parse",
                        extensions={"code": "GRAPHQL_PARSE_FAILED"},
                    )
                ]
            ) from None
        try:
            errors = validate(snapshot.schema, document, self._rules)
        except RecursionError:
            errors = [GraphQLError("the query is nested too deeply to validate")]
        if errors:
            raise DocumentError([_with_code(e, "GRAPHQL_VALIDATION_FAILED") for e in errors])
        return PreparedDocument(snapshot, document)


def _with_code(error: GraphQLError, code: str) -> GraphQLError:
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": code}
    return error
