"""The MCP server for agents (docs/mcp.md): tools that run GraphQL operations as the caller.

``executor`` runs a GraphQL operation either in-process against the API's schema with the
caller's principal (streamable HTTP at ``/mcp`` on the API) or over HTTP with a token (stdio,
``gitstore mcp``); ``tools`` builds the FastMCP server over an executor; ``http`` mounts it.
"""
