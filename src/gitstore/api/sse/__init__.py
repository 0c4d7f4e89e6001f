"""GraphQL over Server-Sent Events (graphql-sse protocol): endpoint, streams, operations."""
