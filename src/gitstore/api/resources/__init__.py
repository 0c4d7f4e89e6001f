"""The resource store over the API: who may read and write status (``access``), the
actions (``actions``) and the ``status`` of catalogue types (``catalog_status``).
See docs/resources.md."""
