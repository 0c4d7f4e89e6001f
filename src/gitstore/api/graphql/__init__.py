"""GraphQL on graphql-core: schema modules and the builder (``builder``), the live schema
(``holder``), document preparation with caching and limits (``documents``, ``limits``),
Automatic Persisted Queries (``apq``), Relay helpers (``relay``, ``payloads``) and the
schema modules themselves (``identity``, ...; listed in ``modules``).
"""
