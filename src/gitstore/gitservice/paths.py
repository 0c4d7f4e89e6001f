"""File paths inside a repository tree, and content size limits.

A path names a file relative to the repository root, with ``/`` between components, and is
checked before anything is read or written. Rejected (``InvalidArgument`` naming the path):

* empty, absolute (``/x``), a trailing slash (``x/``), an empty component (``a//b``);
* ``.`` or ``..`` components, so no path can climb out of the tree;
* a ``.git`` component in any case (``.GIT``, ``a/.git/b``), also with the trailing dots or
  spaces and the 8.3 short name (``git~1``) that Windows and macOS file systems treat as
  ``.git``, so a clone can never be tricked into writing its own metadata;
* NUL bytes, backslashes and other control characters;
* more than ``MAX_PATH_BYTES`` bytes of UTF-8, or more than ``MAX_TREE_DEPTH`` components.

The same two limits bound every tree a push brings (``transport.objects``), so no path the
service reads or writes is longer or deeper than these. ``display(name)`` turns a name git
handed over (pygit2 decodes bytes that are not UTF-8 with ``surrogateescape``) into text that
can travel in a protobuf string: undecodable bytes become ``\\xNN``.

These are the same paths ``git fsck`` accepts with its ``.git`` protections on; every tree
the service writes therefore stays loadable by any git client.

Content limits (``settings.git.max_file_bytes`` per file, ``max_commit_bytes`` per request)
are checked before any object is written, so an oversized request changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitstore.domain.errors import InvalidArgument

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux; git itself has no limit
MAX_TREE_DEPTH = 64  # directories deep; git >= 2.44 defaults core.maxTreeDepth to 2048
_GIT_ALIASES = frozenset({".git", "git~1"})


def path_problem(path: str) -> str | None:
    """Why ``path`` is not an acceptable repository path, or None when it is."""
    if not path:
        return "must not be empty"
    if "\x00" in path:
        return "must not contain NUL bytes"
    if "\\" in path:
        return "must not contain backslashes (use '/')"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return "must not contain control characters"
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        return f"must be at most {MAX_PATH_BYTES} bytes"
    if path.count("/") >= MAX_TREE_DEPTH:
        return f"must be at most {MAX_TREE_DEPTH} components deep"
    if path.startswith("/"):
        return "must be relative (no leading '/')"
    if path.endswith("/"):
        return "must not end with '/'"
    for component in path.split("/"):
        if component == "":
            return "must not contain empty components ('//')"
        if component in (".", ".."):
            return f"must not contain a {component!r} component"
        if component.rstrip(". ").lower() in _GIT_ALIASES or component.lower() in _GIT_ALIASES:
            return "must not contain a '.git' component"
    return None


def display(name: str) -> str:
    """``name`` as valid UTF-8 text: bytes that were not UTF-8 (surrogate escapes) as ``\\xNN``."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace")
    return name


def validate_path(path: str, field: str = "path") -> str:
    """Return ``path`` unchanged if acceptable, else raise ``InvalidArgument`` naming it."""
    problem = path_problem(path)
    if problem is not None:
        raise InvalidArgument(f"{field} {path!r} {problem}", field=field)
    return path


def validate_prefix(prefix: str, field: str = "path_prefix") -> str:
    """A directory prefix: like a path, but may be empty (the root) or end with one '/'."""
    stripped = prefix[:-1] if prefix.endswith("/") else prefix
    if not stripped:
        if prefix:
            raise InvalidArgument(f"{field} {prefix!r} must be relative", field=field)
        return ""
    return validate_path(stripped, field)


def check_sizes(
    sizes: Iterable[tuple[str, int]], max_file_bytes: int, max_total_bytes: int
) -> None:
    """Raise ``InvalidArgument`` if one content or their sum is over its limit."""
    total = 0
    for path, size in sizes:
        if size > max_file_bytes:
            raise InvalidArgument(
                f"content of {path!r} is {size} bytes; the limit is {max_file_bytes} bytes",
                field="content",
            )
        total += size
    if total > max_total_bytes:
        raise InvalidArgument(
            f"the commit carries {total} bytes of content; the limit is {max_total_bytes} bytes",
            field="content",
        )
