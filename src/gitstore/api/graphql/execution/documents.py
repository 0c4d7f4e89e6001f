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

Everything else that depends only on the document is worked out once with it, so a cache hit
costs a dictionary lookup: the operations by name (``operation(name)``) and each operation's
metrics label (``label(operation)``, ``<type>.<first root field>``), and, for a cached
document, each operation's execution plan (``plan(operation)``, see ``plan``: None when
graphql-core must run it). The depth and cost limits are validation rules, so they too run
once per cached document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)

from gitstore.config import ApiSettings

from ..holder import SchemaSnapshot
from ..lru import LRU
from .carry import same_for
from .limits import limits_rule
from .plan import Plan, compile_plan


class DocumentError(Exception):
    """The query text does not parse or does not validate against the schema."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    snapshot: SchemaSnapshot
    document: DocumentNode
    plans_enabled: bool = False  # compile execution plans (worth it for cached documents)
    # worked out once per document (see the module docstring)
    _only: OperationDefinitionNode | None = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, OperationDefinitionNode] = field(init=False, repr=False, compare=False)
    _labels: Mapping[int, str] = field(init=False, repr=False, compare=False)
    _plans: dict[int, Plan | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        operations = [
            d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        set_ = object.__setattr__  # frozen dataclass: fields set once, here
        set_(self, "_only", operations[0] if len(operations) == 1 else None)
        set_(self, "_by_name", {o.name.value: o for o in reversed(operations) if o.name})
        set_(self, "_labels", {id(o): _label(o) for o in operations})
        set_(self, "_plans", {})

    def operation(self, name: str | None) -> OperationDefinitionNode:
        """The operation to run; a ``GraphQLError`` when ``name`` selects none."""
        if name is None:
            if self._only is not None:
                return self._only
            raise GraphQLError(
                "the document has several operations; send operationName to pick one",
                extensions={"code": "BAD_REQUEST"},
            )
        operation = self._by_name.get(name)
        if operation is not None:
            return operation
        raise GraphQLError(
            f"the document has no operation named {name!r}", extensions={"code": "BAD_REQUEST"}
        )

    def plan(self, operation: OperationDefinitionNode) -> Plan | None:
        """The execution plan of one of this document's operations (compiled on first use),
        or None: plans are off for this document or the operation is not one they run."""
        if not self.plans_enabled:
            return None
        key = id(operation)
        try:
            return self._plans[key]
        except KeyError:
            plan = compile_plan(self.snapshot.schema, self.document, operation)
            self._plans[key] = plan
            return plan

    def label(self, operation: OperationDefinitionNode) -> str:
        """``<type>.<first root field>`` of one of this document's operations (metrics)."""
        return self._labels.get(id(operation)) or _label(operation)


class DocumentCache:
    @classmethod
    def from_settings(
        cls, api: ApiSettings, on_lookup: Callable[[bool], None] | None = None
    ) -> DocumentCache:
        """A cache with the limits of the ``GITSTORE_API__*`` settings."""
        return cls(
            enabled=api.document_cache,
            capacity=api.document_cache_size,
            max_depth=api.max_depth,
            max_cost=api.max_cost,
            max_mutation_fields=api.max_mutation_fields,
            max_page_size=api.max_page_size,
            max_tokens=api.max_query_tokens,
            on_lookup=on_lookup,
        )

    def __init__(
        self,
        *,
        enabled: bool,
        capacity: int,
        max_depth: int,
        max_cost: int,
        max_page_size: int,
        max_mutation_fields: int = 25,
        max_tokens: int,
        on_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self.enabled = enabled
        self._entries: LRU[tuple[int, str], PreparedDocument] = LRU(capacity)
        self._rules = [
            *specified_rules,
            limits_rule(
                max_depth=max_depth,
                max_cost=max_cost,
                max_page_size=max_page_size,
                max_mutation_fields=max_mutation_fields,
            ),
        ]
        self._max_tokens = max_tokens
        self._on_lookup = on_lookup

    def prepare(
        self,
        snapshot: SchemaSnapshot,
        query: str,
        parsed: DocumentNode | None = None,
        valid_in: GraphQLSchema | None = None,
    ) -> PreparedDocument:
        """A parsed and validated document for ``query``; ``DocumentError`` if it is not one.
        ``parsed``: ``query`` parsed already (a document does not depend on the schema: the
        parse of one cached for another schema version is reused, ``recent_documents``);
        ``valid_in``: a schema ``parsed`` is known to be valid in — validation is skipped
        when ``snapshot``'s schema resolves everything the document names to the same
        objects (``carry.same_for``)."""
        if not self.enabled:
            return self._prepare(snapshot, query, parsed, valid_in)
        key = (snapshot.version, query)
        cached = self._entries.get(key)
        if self._on_lookup is not None:
            self._on_lookup(cached is not None)
        if cached is not None:
            return cached
        prepared = self._prepare(snapshot, query, parsed, valid_in)
        self._entries.put(key, prepared)
        return prepared

    def clear(self) -> None:
        self._entries.clear()

    def recent_queries(self, version: int, limit: int) -> list[str]:
        """Query texts cached for schema ``version``, most recently used first (at most
        ``limit``): what to prepare for a schema that replaces it (``StoreSchemas``)."""
        found: list[str] = []
        for cached_version, query in self._entries.recent_keys():
            if cached_version == version:
                found.append(query)
                if len(found) >= limit:
                    break
        return found

    def recent_documents(self, version: int, limit: int) -> list[tuple[str, DocumentNode]]:
        """``recent_queries`` with each query's parsed document (to prepare it for a schema
        that replaces ``version`` without parsing it again)."""
        found: list[tuple[str, DocumentNode]] = []
        for (cached_version, query), prepared in self._entries.recent_items():
            if cached_version == version:
                found.append((query, prepared.document))
                if len(found) >= limit:
                    break
        return found

    def __len__(self) -> int:
        return len(self._entries)

    def _prepare(
        self,
        snapshot: SchemaSnapshot,
        query: str,
        parsed: DocumentNode | None = None,
        valid_in: GraphQLSchema | None = None,
    ) -> PreparedDocument:
        schema = snapshot.schema
        if parsed is not None and valid_in is not None and same_for(parsed, valid_in, schema):
            return PreparedDocument(snapshot, parsed, plans_enabled=self.enabled)  # valid there
        try:
            document = parsed or parse(query, max_tokens=self._max_tokens)
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
        return PreparedDocument(snapshot, document, plans_enabled=self.enabled)


def _label(operation: OperationDefinitionNode) -> str:
    first = next(
        (s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)),
        "fragment",
    )
    return f"{operation.operation.value}.{first}"


def _with_code(error: GraphQLError, code: str) -> GraphQLError:
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": code}
    return error
