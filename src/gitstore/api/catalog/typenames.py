"""Temporary alias of ``api.catalog.types.names``, for ``api/storeschema/`` only.

The api-layout refactor moved the module but left api/storeschema/ untouched (another
branch changes it). New code imports ``api.catalog.types.names``; delete this alias once
storeschema's imports are switched (prepared on branch ``api-layout-storeschema``).
"""

from .types.names import (
    enum_value_name,
    field_name,
    pascal,
    type_origin,
)

__all__ = ["enum_value_name", "field_name", "pascal", "type_origin"]
