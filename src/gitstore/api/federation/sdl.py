"""The SDL a store endpoint reports in ``_service { sdl }`` as a Federation v2 subgraph.

The federation spec wants the subgraph's own schema *with* its federation directives:
``extend schema @link(url: ".../federation/v2.x", import: [...])`` and ``@key(fields: ...)``
on each entity type. graphql-core keeps applied directives only on AST nodes and its
``print_schema`` prints none of them (except ``@deprecated`` / ``@specifiedBy``), so the text
is assembled here from graphql-core's per-type printers: each type is printed as usual and
the ``@key`` directives are put right after an entity type's header (``type Product implements
Node``). The federation machinery itself — ``_Any``, ``_Entity``, ``_Service`` and the query
fields ``_service`` / ``_entities`` — is left out, as ``@apollo/subgraph`` does: a gateway
adds its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

from graphql import GraphQLObjectType, GraphQLSchema, is_specified_directive
from graphql.utilities.print_schema import (
    is_defined_type,
    print_description,
    print_directive,
    print_implemented_interfaces,
    print_schema_definition,
    print_type,
)

FEDERATION_VERSION = "v2.3"
LINK_URL = f"https://specs.apollo.dev/federation/{FEDERATION_VERSION}"
IMPORTS = ("@key",)
_IMPORTED = ", ".join(f'"{name}"' for name in IMPORTS)
LINK = f'extend schema @link(url: "{LINK_URL}", import: [{_IMPORTED}])'
FEDERATION_TYPES = frozenset({"_Any", "_Entity", "_Service", "FieldSet", "link__Import"})
FEDERATION_FIELDS = frozenset({"_service", "_entities"})

_CACHE: weakref.WeakKeyDictionary[GraphQLSchema, str] = weakref.WeakKeyDictionary()


def key_directives(fields: tuple[str, ...]) -> str:
    return "".join(f' @key(fields: "{f}")' for f in fields)


def subgraph_sdl(schema: GraphQLSchema, keys: Mapping[str, tuple[str, ...]]) -> str:
    """The subgraph SDL of ``schema``; ``keys``: entity type name -> its key fields (fixed
    for a schema by the module that built it, so the text is cached per schema)."""
    cached = _CACHE.get(schema)
    if cached is not None:
        return cached
    parts = [LINK]
    definition = print_schema_definition(schema)
    if definition is not None:
        parts.append(definition)
    parts.extend(print_directive(d) for d in schema.directives if not is_specified_directive(d))
    for named in schema.type_map.values():
        if not is_defined_type(named) or named.name in FEDERATION_TYPES:
            continue
        if named is schema.query_type:
            named = GraphQLObjectType(
                named.name,
                {k: v for k, v in named.fields.items() if k not in FEDERATION_FIELDS},
                interfaces=named.interfaces,
                description=named.description,
            )
        text = print_type(named)
        fields = keys.get(named.name)
        if fields and isinstance(named, GraphQLObjectType):
            head = (
                print_description(named)
                + f"type {named.name}"
                + print_implemented_interfaces(named)
            )
            if not text.startswith(head):  # graphql-core changed its printer
                raise RuntimeError(f"cannot place @key on type {named.name}: unexpected SDL")
            text = head + key_directives(fields) + text[len(head) :]
        parts.append(text)
    sdl = "\n\n".join(parts) + "\n"
    _CACHE[schema] = sdl
    return sdl
