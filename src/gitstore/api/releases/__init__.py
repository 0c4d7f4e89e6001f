"""Releases of ON_RELEASE_TAG repositories: recording release tags, requesting publications
(publish, roll back/forward, replay) and reading them. See ``actions`` (use cases), ``reads``
(pages and status), ``access`` (who may do what) and docs/releases.md."""
