"""``ResolveInfo``: graphql-core's resolver info, parameterised where the library allows it
(graphql-core 3.3 makes ``GraphQLResolveInfo`` generic in the context type; 3.2 does not)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from graphql import GraphQLResolveInfo

if TYPE_CHECKING:
    ResolveInfo: TypeAlias = GraphQLResolveInfo[Any]
else:
    ResolveInfo = GraphQLResolveInfo

__all__ = ["ResolveInfo"]
