"""How a GraphQL request's document is prepared and run, apart from what the schema says.

* ``documents``: parse and validate a query once per (schema version, text), with the
  limits rule (``limits``: depth and cost) run as a validation rule, so a cached document
  is never checked again; ``carry`` decides whether a document valid against one store
  schema is valid against the next without validating it (schema swaps).
* ``apq``: Automatic Persisted Queries (a hash instead of the text).
* ``plan`` (design and semantics), ``plan_shapes`` (compiled) and ``plan_run`` (one run):
  a lean executor for cached documents of plain fields, graphql-core's semantics without
  its per-request work; anything it does not cover runs on graphql-core's executor.

Only the schema-independent machinery lives here: it imports the live schema (``holder``)
and the shared LRU from the package above, never a schema module.
"""
