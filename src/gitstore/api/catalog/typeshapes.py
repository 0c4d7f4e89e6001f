"""Temporary alias of ``api.catalog.types.shapes``, for ``api/storeschema/`` only.

The api-layout refactor moved the module but left api/storeschema/ untouched (another
branch changes it). New code imports ``api.catalog.types.shapes``; delete this alias once
storeschema's imports are switched (prepared on branch ``api-layout-storeschema``).
"""

from .types.shapes import (
    fits_int32,
    json_type_of,
    types_of,
    untypable,
)

__all__ = ["fits_int32", "json_type_of", "types_of", "untypable"]
