"""The resource store's domain types (resourceVersion, changes, the watch feed)."""
