"""Which tags are release tags: the repository's ``release_patterns`` (default ``release/*``,
``v*``) matched against the short tag name.

The rule itself is ``gitstore.domain.publishing.release_tag_matches`` (globs matched in full,
case-sensitively; ``*`` does not cross ``/``, ``**`` does), the same function the pre-receive
policy uses, so ``createRelease`` and ``git push`` of a tag never disagree about what is a
release; likewise tag names follow the push policy's ``tag_name_problem``. This module only
adds the ``refs/tags/`` handling the API needs.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.publishing import release_tag_matches, tag_name_problem

TAGS_PREFIX = "refs/tags/"


def short_tag(tag: str) -> str:
    """``v1.2`` for ``refs/tags/v1.2`` (and for ``v1.2``)."""
    return tag[len(TAGS_PREFIX) :] if tag.startswith(TAGS_PREFIX) else tag


def is_release_tag(tag: str, patterns: Iterable[str]) -> bool:
    """Does the (short or full) tag name match one of ``patterns``?"""
    return release_tag_matches(short_tag(tag), patterns)


def check_tag_name(tag: str) -> str:
    """The short tag name, or ``InvalidArgument`` (field ``tag``) when a push would refuse it."""
    name = short_tag(tag.strip())
    problem = tag_name_problem(name) if name else "must not be empty"
    if problem is not None:
        raise InvalidArgument(f"tag {name!r} {problem}", field="tag")
    return name
