"""GraphQL on graphql-core: schema modules and the builder (``builder``), the live schema
(``holder``), Relay helpers (``relay``, ``payloads``), shared scalars and field helpers, and
the schema modules themselves (``identity``, ``catalog_reads``, ...; listed in ``modules``).

How a request's document is prepared and run lives one level down, in ``execution``:
parsing and validation cached per schema version (``documents``, ``carry``), depth and cost
limits (``limits``), Automatic Persisted Queries (``apq``) and the lean executor for cached
documents (``plan``, ``plan_shapes``, ``plan_run``).
"""
