"""Temporary alias of ``api.catalog.types.generate``, for ``api/storeschema/`` only.

The api-layout refactor moved the module but left api/storeschema/ untouched (another
branch changes it). New code imports ``api.catalog.types.generate``; delete this alias once
storeschema's imports are switched (prepared on branch ``api-layout-storeschema``).
"""

from .types.generate import (
    ENVELOPE_FIELDS,
    TypeProblem,
    field_name,
    pascal,
    types_for_kind,
)

__all__ = ["ENVELOPE_FIELDS", "TypeProblem", "field_name", "pascal", "types_for_kind"]
