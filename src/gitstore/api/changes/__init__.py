"""Change requests: use cases (``actions``), their git reads (``trees``), the push-path
validation of a candidate commit (``validation``) and their notifications (``notify``)."""
