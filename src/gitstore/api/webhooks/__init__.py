"""Webhooks of published releases: registration (``actions``, ``urls``), the consumer of
publication outcomes that queues deliveries (``results``), the signed-POST dispatcher with
retries (``dispatcher``, ``signing``) and the two background loops (``background``). See
docs/releases.md, "Webhooks"."""
