"""The metadata store: users, tokens, namespaces, memberships, repositories, idempotency keys,
the audit log, and the git-ingress records (SSH keys, releases, publications, webhooks,
deliveries; ``base_git``), behind ``MetadataStore`` (``base``). Open one by URL with
``open_metadata_store`` (``factory``); implementations are ``MemoryMetadataStore``
(``memory``), ``SqliteMetadataStore`` (``sqlite``) and ``PostgresMetadataStore``
(``postgres``, imported only when used). See docs/metadata.md.
"""

from .base import MetadataStore
from .factory import open_metadata_store

__all__ = ["MetadataStore", "open_metadata_store"]
