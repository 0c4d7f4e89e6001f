"""Temporary alias of ``api.catalog.writes.result``, for ``api/storeschema/`` only.

The api-layout refactor moved the module but left api/storeschema/ untouched (another
branch changes it). New code imports ``api.catalog.writes.result``; delete this alias once
storeschema's imports are switched (prepared on branch ``api-layout-storeschema``).
"""

from .writes.result import (
    WriteResult,
)

__all__ = ["WriteResult"]
