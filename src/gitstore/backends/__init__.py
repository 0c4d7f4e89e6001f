"""Pluggable backends, each family behind one small abstract base class.

``queue/`` (event queue), ``metadata/`` (users, namespaces, repositories, ...), ``kv/``
(storefront projection). A backend is chosen by URL; each family has an embedded
implementation (SQLite in the data dir) for ``gitstore serve``, real-server implementations,
and one contract test suite in ``tests/`` that every implementation passes.
"""
