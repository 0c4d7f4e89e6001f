"""Watches: the per-process watch cache (``cache``), fed by queue pokes (``pokes``)."""
