"""Temporary alias of ``api.catalog.writes.inputs``, for ``api/storeschema/`` only.

The api-layout refactor moved the module but left api/storeschema/ untouched (another
branch changes it). New code imports ``api.catalog.writes.inputs``; delete this alias once
storeschema's imports are switched (prepared on branch ``api-layout-storeschema``).
"""

from .writes.inputs import (
    WriteOptions,
)

__all__ = ["WriteOptions"]
