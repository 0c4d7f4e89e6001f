"""Resource stores (spec, status, resourceVersion, generation; the watch feed), by URL:
``factory.open_resource_store``. See ``base`` and docs/resources.md."""

from .announcer import Announcer
from .base import ApplyOutcome, RepoState, ResourceStore
from .factory import open_resource_store
from .poke import announce, poke_retention

__all__ = [
    "Announcer",
    "ApplyOutcome",
    "RepoState",
    "ResourceStore",
    "announce",
    "open_resource_store",
    "poke_retention",
]
