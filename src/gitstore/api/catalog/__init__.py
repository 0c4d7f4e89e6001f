"""The catalogue domain of the API: storefront reads served from the KV projection
(``reads``, ``resources``, ``ids``, ``status``, ``floor``, ``membership``, ``access``), the
GraphQL types generated from the kinds' JSON Schemas (``types/``), and catalogue mutations
committed through the git service (``writes/``, whose package docstring walks the write path).
No GraphQL wiring here except the type generator; the schema modules are
``api/graphql/catalog_reads.py`` and ``api/graphql/catalog_mutations.py``. See
docs/storefront.md, docs/projection.md and docs/mutations.md.
"""
