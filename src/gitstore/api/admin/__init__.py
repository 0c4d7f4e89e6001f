"""The admin web interface: static files under ``/admin`` (see docs/admin.md)."""

from .routes import ADMIN_PREFIX, admin_mount

__all__ = ["ADMIN_PREFIX", "admin_mount"]
