"""The extension seam of the API: schema modules contribute to a :class:`SchemaBuilder`.

The executable schema is assembled at run time from a list of *schema modules*. A module is
any object with a ``name`` and ``contribute(builder)``; it adds named types, root fields
(``Query`` / ``Mutation`` / ``Subscription``), user-error codes and Relay node fetchers. The
builder owns the types every module shares, so that there is exactly one of each per schema:

* ``DateTime`` (scalar), ``PageInfo``, the ``Node`` interface (``node(id:)`` is added when any
  module registers a node type), ``UserError { field message code }`` and its
  ``UserErrorCode`` enum (modules may add codes before the enum is first used);
* ``<Name>Connection`` / ``<Name>Edge`` types, made once per node type by :meth:`connection`.

Conflicts are build errors that name both modules (two modules defining ``Query.viewer``, or
two different types called ``User``). A builder is used once: a new schema (e.g. after the kind
registry changed) is a new builder fed the same modules, then handed to ``SchemaHolder.publish``
which validates it and swaps it in. Because modules build fresh type objects on every call,
they must not cache GraphQL types between builds; they may keep any other state. The one way
to share types between schemas is :meth:`SchemaBuilder.fork`: the part contributed before the
fork is shared by every schema built from a fork of it (graphql-core types do not change once
a schema has resolved them), e.g. the platform's part of every store schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
)

from .info import ResolveInfo
from .relay import DEFAULT_MAX_PAGE_SIZE, Connection, decode_global_id, encode_global_id
from .scalars import make_datetime_scalar

NT = TypeVar("NT", bound=GraphQLNamedType)
NodeFetcher = Callable[[ResolveInfo, str], Awaitable[Any]]

DEFAULT_PAGE_SIZE = 20

BASE_USER_ERROR_CODES: dict[str, str] = {
    "INVALID_ARGUMENT": "An input value is malformed or out of range; `field` names it.",
    "NOT_FOUND": "The object the input refers to does not exist (or is not visible).",
    "ALREADY_EXISTS": "An object with this identity exists already.",
    "FAILED_PRECONDITION": "The object is not in a state that allows this change.",
    "PERMISSION_DENIED": "The caller is authenticated but may not do this.",
    "INVALID_CREDENTIALS": "Username or password is wrong.",
    "TOO_MANY_ATTEMPTS": "Too many failed sign-in attempts: wait as long as the message says.",
    "ABORTED": "A concurrent change won a race; retrying may succeed.",
}


class SchemaBuildError(Exception):
    """A module contributed something that cannot be part of a schema."""


class SchemaModule(Protocol):
    """A piece of the API. ``contribute`` is called once per schema build."""

    name: str

    def contribute(self, builder: SchemaBuilder) -> None: ...


@dataclass(frozen=True, slots=True)
class _NodeRegistration:
    type_name: str
    fetch: NodeFetcher
    classes: tuple[type, ...]


class SchemaBuilder:
    def __init__(self, *, max_page_size: int = DEFAULT_MAX_PAGE_SIZE) -> None:
        self.max_page_size = max_page_size
        self.module = "core"  # the module currently contributing (for error messages)
        self._types: dict[str, GraphQLNamedType] = {}
        self._type_owner: dict[str, str] = {}
        self._roots: dict[str, dict[str, GraphQLField]] = {
            "Query": {},
            "Mutation": {},
            "Subscription": {},
        }
        self._field_owner: dict[str, str] = {}
        self._codes: dict[str, str] = dict(BASE_USER_ERROR_CODES)
        self._code_enum: GraphQLEnumType | None = None
        self._nodes: dict[str, _NodeRegistration] = {}
        self._node_by_class: dict[type, str] = {}
        self._connections: dict[str, GraphQLObjectType] = {}
        self._built = False
        self._forked = False  # made by ``fork``: shares the types contributed before it

        self.datetime = self.add_type(make_datetime_scalar())
        self.page_info = self.add_type(_page_info_type())
        self.node_interface = self.add_type(
            GraphQLInterfaceType(
                "Node",
                {"id": GraphQLField(GraphQLNonNull(GraphQLID), description="Opaque global ID.")},
                resolve_type=self._resolve_node_type,
                description="An object with an opaque global ID, fetchable with node(id:).",
            )
        )
        self.user_error = self.add_type(
            GraphQLObjectType(
                "UserError",
                lambda: {
                    "field": GraphQLField(
                        GraphQLString, description="The input field at fault, if one is."
                    ),
                    "message": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "code": GraphQLField(GraphQLNonNull(self.user_error_code_enum)),
                    "rule": GraphQLField(
                        GraphQLString,
                        description="The content rule a manifest broke (e.g. required,"
                        " decimal), for VALIDATION_FAILED and MALFORMED_MANIFEST; else null.",
                    ),
                },
                description="An expected failure of a mutation, returned in its payload.",
            )
        )

    # ------------------------------------------------------------------ forks
    def fork(self) -> SchemaBuilder:
        """A new builder that starts with everything contributed here so far — the same type
        and field objects, not copies — and goes on on its own: what is contributed to the
        fork is not seen here nor by another fork. So a schema's common part is contributed
        once and shared by the schemas built from forks (``storeschema.platform``). The
        ``UserErrorCode`` enum is frozen first (a fork cannot add codes), and a fork cannot
        register node types: the shared ``Node`` interface resolves this builder's only."""
        self._check_open()
        self.module = "core"
        self.user_error_code_enum  # noqa: B018 - frozen: shared by every fork
        fork = object.__new__(SchemaBuilder)
        fork.__dict__.update(self.__dict__)
        fork._types = dict(self._types)
        fork._type_owner = dict(self._type_owner)
        fork._roots = {root: dict(fields) for root, fields in self._roots.items()}
        fork._field_owner = dict(self._field_owner)
        fork._codes = dict(self._codes)
        fork._nodes = dict(self._nodes)
        fork._node_by_class = dict(self._node_by_class)
        fork._connections = dict(self._connections)
        fork._forked = True
        return fork

    # ------------------------------------------------------------------ types
    def add_type(self, type_: NT) -> NT:
        """Register a named type (idempotent for the same object)."""
        self._check_open()
        existing = self._types.get(type_.name)
        if existing is type_:
            return type_
        if existing is not None:
            raise SchemaBuildError(
                f"type {type_.name} is defined twice: by module {self._type_owner[type_.name]!r}"
                f" and by module {self.module!r}"
            )
        self._types[type_.name] = type_
        self._type_owner[type_.name] = self.module
        return type_

    def get_type(self, name: str) -> GraphQLNamedType:
        try:
            return self._types[name]
        except KeyError:
            raise SchemaBuildError(
                f"module {self.module!r} needs type {name}, which no module defined (yet)"
            ) from None

    def has_type(self, name: str) -> bool:
        return name in self._types

    # ------------------------------------------------------------------ root fields
    def add_query_field(self, name: str, field: GraphQLField) -> None:
        self._add_root_field("Query", name, field)

    def add_mutation_field(self, name: str, field: GraphQLField) -> None:
        self._add_root_field("Mutation", name, field)

    def add_subscription_field(self, name: str, field: GraphQLField) -> None:
        self._add_root_field("Subscription", name, field)

    def _add_root_field(self, root: str, name: str, field: GraphQLField) -> None:
        self._check_open()
        key = f"{root}.{name}"
        if key in self._field_owner:
            raise SchemaBuildError(
                f"{key} is defined twice: by module {self._field_owner[key]!r}"
                f" and by module {self.module!r}"
            )
        self._roots[root][name] = field
        self._field_owner[key] = self.module

    # ------------------------------------------------------------------ user errors
    def add_user_error_code(self, code: str, description: str) -> None:
        """Add a ``UserErrorCode`` value; only before the enum is first used."""
        if self._code_enum is not None:
            raise SchemaBuildError(
                f"module {self.module!r} adds user error code {code} after UserErrorCode was built"
            )
        self._codes.setdefault(code, description)

    @property
    def user_error_code_enum(self) -> GraphQLEnumType:
        if self._code_enum is None:
            self._code_enum = GraphQLEnumType(
                "UserErrorCode",
                {
                    code: GraphQLEnumValue(code, description=text)
                    for code, text in sorted(self._codes.items())
                },
                description="Why a mutation did not do what was asked.",
            )
            self.add_type(self._code_enum)
        return self._code_enum

    @property
    def user_error_codes(self) -> frozenset[str]:
        return frozenset(self._codes)

    # ------------------------------------------------------------------ relay
    def register_node(
        self, type_name: str, fetch: NodeFetcher, classes: Iterable[type] = ()
    ) -> None:
        """Make ``node(id:)`` find objects of ``type_name`` with ``fetch(info, raw_id)`` (which
        returns None when there is no such object). Values of ``classes`` resolve to this type
        wherever a ``Node`` is returned."""
        self._check_open()
        if self._forked:
            raise SchemaBuildError(
                f"module {self.module!r} registers node type {type_name} on a forked builder;"
                " the shared Node interface resolves the node types registered before the fork"
            )
        if type_name in self._nodes:
            raise SchemaBuildError(f"node type {type_name} is registered twice")
        registration = _NodeRegistration(type_name, fetch, tuple(classes))
        self._nodes[type_name] = registration
        for cls in registration.classes:
            self._node_by_class[cls] = type_name

    def global_id_field(self, type_name: str, attribute: str = "id") -> GraphQLField:
        """An ``id: ID!`` field resolving to the opaque global ID of ``obj.<attribute>``."""

        def resolve(obj: Any, _info: ResolveInfo) -> str:
            return encode_global_id(type_name, str(getattr(obj, attribute)))

        return GraphQLField(GraphQLNonNull(GraphQLID), resolve=resolve, description="Global ID.")

    def connection(self, node_type: GraphQLObjectType) -> GraphQLObjectType:
        """The ``<Name>Connection`` type over ``node_type`` (one per schema)."""
        name = node_type.name
        if name in self._connections:
            return self._connections[name]
        edge = self.add_type(
            GraphQLObjectType(
                f"{name}Edge",
                {
                    "cursor": GraphQLField(GraphQLNonNull(GraphQLString)),
                    "node": GraphQLField(GraphQLNonNull(node_type)),
                },
            )
        )
        connection = self.add_type(
            GraphQLObjectType(
                f"{name}Connection",
                {
                    "edges": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))),
                    "nodes": GraphQLField(
                        GraphQLNonNull(GraphQLList(GraphQLNonNull(node_type))),
                        resolve=lambda c, _i: c.nodes,
                    ),
                    "pageInfo": GraphQLField(
                        GraphQLNonNull(self.page_info), resolve=lambda c, _i: c
                    ),
                    "totalCount": GraphQLField(
                        GraphQLNonNull(GraphQLInt), resolve=lambda c, _i: c.total_count
                    ),
                },
            )
        )
        self._connections[name] = connection
        return connection

    def connection_args(self, **extra: GraphQLArgument) -> dict[str, GraphQLArgument]:
        """``first`` (default 20, at most ``max_page_size``) and ``after``, plus ``extra``."""
        return {
            "first": GraphQLArgument(
                GraphQLInt,
                default_value=DEFAULT_PAGE_SIZE,
                description=f"Page size, 1..{self.max_page_size}.",
            ),
            "after": GraphQLArgument(GraphQLString, description="endCursor of the previous page."),
            **extra,
        }

    def _resolve_node_type(self, value: Any, _info: ResolveInfo, _abstract: Any) -> str:
        for cls in type(value).__mro__:
            if cls in self._node_by_class:
                return self._node_by_class[cls]
        raise TypeError(f"no GraphQL node type is registered for {type(value).__name__}")

    async def _resolve_node(self, _root: Any, info: ResolveInfo, id: str) -> Any:
        gid = decode_global_id(id)
        registration = self._nodes.get(gid.type_name)
        if registration is None:
            return None
        return await registration.fetch(info, gid.id)

    # ------------------------------------------------------------------ build
    def build(self, *, extensions: dict[str, Any] | None = None) -> GraphQLSchema:
        """Assemble the schema (not yet validated: ``SchemaHolder.publish`` does that);
        ``extensions``: the schema's own (graphql-core's ``GraphQLSchema.extensions``)."""
        self._check_open()
        self.module = "core"
        if self._nodes:
            self.add_query_field(
                "node",
                GraphQLField(
                    self.node_interface,
                    args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
                    resolve=self._resolve_node,
                    description="Any object by its opaque global ID (null if none).",
                ),
            )
        self.user_error_code_enum  # noqa: B018 - freeze the enum and register it
        self._built = True
        roots = {
            name: GraphQLObjectType(name, fields) if fields else None
            for name, fields in self._roots.items()
        }
        if roots["Query"] is None:
            raise SchemaBuildError("no module contributed a Query field")
        try:
            return GraphQLSchema(
                query=roots["Query"],
                mutation=roots["Mutation"],
                subscription=roots["Subscription"],
                types=list(self._types.values()),
                extensions=extensions,
            )
        except (TypeError, ValueError) as exc:
            raise SchemaBuildError(str(exc)) from exc

    def _check_open(self) -> None:
        if self._built:
            raise SchemaBuildError("this SchemaBuilder has built its schema already")


def build_schema(
    modules: Iterable[SchemaModule], *, max_page_size: int = DEFAULT_MAX_PAGE_SIZE
) -> GraphQLSchema:
    """Feed ``modules`` (in order) to a fresh builder and build the schema."""
    builder = SchemaBuilder(max_page_size=max_page_size)
    for module in modules:
        builder.module = module.name
        module.contribute(builder)
    return builder.build()


def _page_info_type() -> GraphQLObjectType:
    def attr(name: str) -> Callable[[Connection[Any], ResolveInfo], Any]:
        return lambda connection, _info: getattr(connection, name)

    return GraphQLObjectType(
        "PageInfo",
        {
            "hasNextPage": GraphQLField(
                GraphQLNonNull(GraphQLBoolean), resolve=attr("has_next_page")
            ),
            "hasPreviousPage": GraphQLField(
                GraphQLNonNull(GraphQLBoolean), resolve=attr("has_previous_page")
            ),
            "startCursor": GraphQLField(GraphQLString, resolve=attr("start_cursor")),
            "endCursor": GraphQLField(GraphQLString, resolve=attr("end_cursor")),
        },
    )
