"""Shadow re-indexing requests (``actions``): maintainers ask, the worker does the work."""
