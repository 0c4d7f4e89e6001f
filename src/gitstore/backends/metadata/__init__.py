"""The metadata store: users, tokens, namespaces, memberships, repositories, idempotency keys
and the audit log, behind ``MetadataStore`` (``base``). Open one by URL with
``open_metadata_store`` (``factory``); implementations are ``MemoryMetadataStore``
(``memory``), ``SqliteMetadataStore`` (``sqlite``) and ``PostgresMetadataStore``
(``postgres``, imported only when used). See docs/metadata.md.
"""

from .base import MetadataStore
from .factory import open_metadata_store

__all__ = ["MetadataStore", "open_metadata_store"]
