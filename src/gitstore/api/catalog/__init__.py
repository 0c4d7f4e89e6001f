"""The catalogue domain of the API: storefront reads served from the KV projection
(``reads``, ``typegen``, ``resources``, ``ids``, ``status``, ``floor``) and catalogue mutations
committed through the git service (``writes*``). No GraphQL wiring here except the type
generator; the schema modules are ``api/graphql/catalog_reads.py`` and
``api/graphql/catalog_mutations.py``. See docs/storefront.md and docs/projection.md.
"""
