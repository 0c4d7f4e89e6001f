"""URL conventions shared by every backend family.

``sqlite:`` URLs name a file, read the same way by the queue, KV and metadata factories:

* ``sqlite:///srv/data/x.sqlite3`` and ``sqlite:////srv/data/x.sqlite3`` are absolute;
* ``sqlite://data/x.sqlite3`` and ``sqlite:data/x.sqlite3`` are relative to the working
  directory.

(The settings' defaults are always absolute: ``sqlite:///<resolved data dir>/<file>``.)
"""

from __future__ import annotations

from pathlib import Path

from gitstore.domain.errors import InvalidArgument


def sqlite_path(url: str, *, what: str = "URL", field: str = "url") -> Path:
    """The file a ``sqlite:`` URL names; ``InvalidArgument`` if it names none."""
    rest = url[len("sqlite:") :] if url.startswith("sqlite:") else ""
    if rest.startswith("//"):
        rest = rest[2:]
    if not rest or rest.endswith("/") or "?" in rest or "#" in rest:
        raise InvalidArgument(
            f"{what} {url!r} must name a file: sqlite:///abs/path or sqlite://relative/path",
            field=field,
        )
    if rest.startswith("/"):
        return Path("/" + rest.lstrip("/"))
    return Path(rest).absolute()
