"""Repositories: a metadata record plus a bare repository in the git service, kept in step.

``actions`` holds the use cases (create, look up, list, update, delete) and the rules that
leave no half-created repository; the GraphQL layer (``gitstore.api.graphql.repositories``)
only translates. See docs/namespaces.md.
"""

from .actions import GitRepositories, RepositoryActions

__all__ = ["GitRepositories", "RepositoryActions"]
