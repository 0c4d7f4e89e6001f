"""The gRPC git service: the only code that reads or writes the bare repositories.

Layers, bottom up (each module's docstring is its design note):

* checks of what requests carry: ``paths`` (file paths, size limits), ``names`` (branches,
  tags, revisions, object ids), ``metadata`` (signatures, messages, trailers);
* the disk: ``storage`` (layout, handle pool, create/delete), ``locks`` (reader/writer lock
  per repository, file lock across processes), ``durability`` (what gets fsynced);
* git operations: ``treeedit`` (path edits of trees), ``cas`` (compare-and-swap of a ref),
  ``revisions`` (rev-parse with clear errors), ``commits`` (CommitFiles), ``refs`` (branches,
  tags, repository deletion), ``reads`` (blobs, trees, diffs, history);
* events: ``events`` (building them), ``outbox`` (durable intent -> committed rows),
  ``refupdate`` (a ref change together with its outbox row), ``relay`` (publishing);
* ``server``: the gRPC servicer, status codes, health, reflection, ``start_server``.
"""
