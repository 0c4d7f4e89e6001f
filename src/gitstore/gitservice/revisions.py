"""Resolving revision expressions to commits, with errors that say what was wrong.

``resolve`` accepts what ``git rev-parse`` accepts (branch, tag, full or abbreviated sha,
``HEAD``, ``main~2``, ``v1^{commit}``) and peels tags to the commit. Outcomes:

* bad syntax (``a..b``, ``@{``) and names of non-commits (``HEAD^{tree}``, a blob id):
  ``InvalidArgument``;
* a name or id that does not exist, ``HEAD`` of an empty repository, an abbreviated id too
  short to look up: ``NotFound``; an abbreviation matching several objects:
  ``InvalidArgument``.
"""

from __future__ import annotations

import pygit2

from gitstore.domain.errors import InvalidArgument, NotFound
from gitstore.gitservice import names


def peel_commit(obj: pygit2.Object | None, revision: str, field: str = "revision") -> pygit2.Commit:
    if obj is None:
        raise NotFound(f"{field} {revision!r} not found", field=field)
    if isinstance(obj, pygit2.Commit):
        return obj
    try:
        commit = obj.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError):
        raise InvalidArgument(
            f"{field} {revision!r} names a {obj.type_str}, not a commit", field=field
        ) from None
    assert isinstance(commit, pygit2.Commit)
    return commit


def resolve_ext(
    repo: pygit2.Repository, revision: str, field: str = "revision"
) -> tuple[pygit2.Commit, str]:
    """The commit a revision names and the full ref name it went through ("" if none)."""
    rev = names.revision(revision, field)
    try:
        obj, ref = repo.revparse_ext(rev)
    except pygit2.InvalidSpecError:
        raise InvalidArgument(f"{field} {rev!r} is not a valid revision", field=field) from None
    except pygit2.AmbiguousError as exc:
        if "too short" in str(exc):
            raise NotFound(f"{field} {rev!r} not found", field=field) from None
        raise InvalidArgument(f"{field} {rev!r} is ambiguous", field=field) from None
    except (KeyError, pygit2.GitError):
        if rev == "HEAD" and repo.head_is_unborn:
            raise NotFound(
                "the repository has no commits yet (HEAD is unborn)", field=field
            ) from None
        raise NotFound(f"{field} {rev!r} not found", field=field) from None
    ref_name = ""
    if ref is not None:
        ref_name = ref.name
        if ref_name == "HEAD":
            target = ref.target
            ref_name = target if isinstance(target, str) else "HEAD"
    return peel_commit(obj, rev, field), ref_name


def resolve(repo: pygit2.Repository, revision: str, field: str = "revision") -> pygit2.Commit:
    return resolve_ext(repo, revision, field)[0]
