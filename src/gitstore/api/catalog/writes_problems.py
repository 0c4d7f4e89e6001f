"""Temporary alias of ``api.catalog.writes.problems``, for ``api/storeschema/`` only.

The api-layout refactor moved the module but left api/storeschema/ untouched (another
branch changes it). New code imports ``api.catalog.writes.problems``; delete this alias once
storeschema's imports are switched (prepared on branch ``api-layout-storeschema``).
"""

from .writes.problems import (
    Problem,
    WriteRefused,
)

__all__ = ["Problem", "WriteRefused"]
