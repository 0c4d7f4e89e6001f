"""Per-repository GraphQL endpoints (``/<namespace>/<repo>/graphql``), rebuilt live.

* ``groups`` — the schema module of a repository's custom kinds (one query field per API group);
* ``versions`` — older served versions of a kind on its hub type: deprecated spoke fields,
  ``as<Version>`` and ``asVersion``, down-converted by the kind's hook;
* ``status`` — the ``schemaStatus`` query field;
* ``schemas`` — ``StoreSchemas``: which schema each repository serves, shared by fingerprint,
  refreshed off the request path and published safely (see its docstring for the design).
"""
