"""The API process: an ASGI app serving GraphQL over HTTP (``gitstore api``).

``app`` (routes and lifespan), ``services`` (what the app owns), ``graphql_http`` (the
GraphQL-over-HTTP contract), ``context`` (what resolvers get), ``errors`` (what clients may
see), ``metrics``; ``graphql/`` (schema modules, caching, limits, APQ, Relay helpers) and
``identity/`` (passwords, tokens, authentication). See docs/api.md.
"""
