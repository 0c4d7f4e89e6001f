"""Namespaces: the isolation boundary for repositories (three tiers, memberships, rights).

Plain async use cases without GraphQL: ``actions`` (create, look up, list, update, delete),
``members`` (roles in organisations and enterprises), ``permissions`` (who may read, write
and administer: the one place later entry points such as git push call too) and ``paging``
(Relay pages over the store's lists). The GraphQL layer (``gitstore.api.graphql.namespaces``)
only translates. See docs/namespaces.md.
"""

from .permissions import Standing, can_read_repository, can_write_repository, standing_of

__all__ = ["Standing", "can_read_repository", "can_write_repository", "standing_of"]
