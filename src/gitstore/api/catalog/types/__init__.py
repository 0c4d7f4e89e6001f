"""GraphQL types generated from a kind's JSON Schema (the catalogue's output types).

``generate.types_for_kind(definition, builder)`` is the entry point: the hub version of a
built-in or custom kind becomes a GraphQL object type and its nested types (the mapping table
is in docs/conversion.md, *From JSON Schema to GraphQL types*). Its helpers: ``names``
(valid, deterministic GraphQL names and the collisions they can run into, ``TypeProblem``),
``scalars`` (the shared ``Decimal``, ``Money`` and ``DateTime`` types) and ``shapes`` (what a
schema node says about its GraphQL shape, and why a node is served as ``JSON``).

Used by the global catalogue schema (``api/graphql/catalog_reads.py``) and by each
repository's own schema (``api/storeschema/``: kind groups, version fields, input types that
mirror these output types, and the name-collision check a kind change must pass). It lives
with the catalogue because its resolvers read ``CatalogResource``s (``..resources``).
"""
