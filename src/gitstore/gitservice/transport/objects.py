"""The paths a push's trees bring: every one must be a path the service itself could write.

git's own object checks run first, inside receive-pack (``receive.fsckObjects``, see
``process.FSCK_OPTIONS``): an entry named ``.`` / ``..`` / ``.git`` (and its case, NTFS and
HFS aliases), an entry with a ``/``, a malformed tree or a ``.gitmodules`` with a hostile
submodule name refuse the whole pack before any hook runs, with git's own ``remote: error:
object <sha>: <msgId>: <text>`` line.

What git accepts is then checked here, for the pre-receive hook: for each commit the push
brings, the files it adds or changes against its first parent (libgit2's tree diff, so an
unchanged 10,000-file directory costs nothing) must have paths that

* are UTF-8 (rule ``path-encoding``; the path is shown with ``\\xNN`` escapes),
* are at most ``paths.MAX_PATH_BYTES`` bytes (``path-length``) and at most
  ``paths.MAX_TREE_DEPTH`` components deep (``tree-depth``),
* pass ``paths.path_problem`` (``tree-entry``: no control characters, backslashes, ``.git``
  aliases, ...), the rule of API-led commits,
* are not submodules: no gitlink entries and no ``.gitmodules`` file (``submodule``;
  a catalogue repository holds none, and a ``.gitmodules`` can point clients at ``ext::``
  URLs that git's checks let through).

A directory that holds no file at all never shows in a diff and is not checked (git does not
check such directories out either). At most ``MAX_PROBLEMS`` problems are collected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pygit2
from pygit2.enums import DeltaStatus

from gitstore.gitservice import paths

PATH_ENCODING = "path-encoding"
PATH_LENGTH = "path-length"
TREE_DEPTH = "tree-depth"
TREE_ENTRY = "tree-entry"
SUBMODULE = "submodule"
MAX_PROBLEMS = 1000
SHOWN_PATH_CHARS = 160


@dataclass(frozen=True, slots=True)
class Problem:
    commit: str
    path: str  # escaped, shortened for display
    rule: str
    message: str


def shown(raw: bytes) -> str:
    """A path for a message: undecodable bytes as ``\\xNN``, long paths shortened."""
    text = raw.decode("utf-8", "backslashreplace")
    if len(text) > SHOWN_PATH_CHARS:
        half = SHOWN_PATH_CHARS // 2
        text = f"{text[:half]}…{text[-half:]}"
    return text


def path_problem(raw: bytes, mode: int) -> tuple[str, str] | None:
    """``(rule, message)`` of what is wrong with a pushed path, or None."""
    depth = raw.count(b"/") + 1
    if depth > paths.MAX_TREE_DEPTH:
        return TREE_DEPTH, (
            f"the path is {depth:,} directories deep; at most {paths.MAX_TREE_DEPTH} are allowed"
        )
    if len(raw) > paths.MAX_PATH_BYTES:
        return PATH_LENGTH, (
            f"the path is {len(raw):,} bytes long; at most {paths.MAX_PATH_BYTES:,} are allowed"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return PATH_ENCODING, "the file name is not valid UTF-8 (rename it)"
    if mode == pygit2.GIT_FILEMODE_COMMIT:
        return SUBMODULE, "submodules (gitlinks) are not allowed in a catalogue repository"
    if any(c.lower() == ".gitmodules" for c in text.split("/")):
        return SUBMODULE, ".gitmodules files are not allowed in a catalogue repository"
    problem = paths.path_problem(text)
    if problem is not None:
        return TREE_ENTRY, f"the path {problem}"
    return None


def _first_parent_tree(commit: pygit2.Commit) -> pygit2.Tree | None:
    if not commit.parent_ids:
        return None
    parent = commit.parents[0]
    return parent.tree


def commit_problems(repo: pygit2.Repository, commit: pygit2.Commit) -> Iterable[Problem]:
    """Problems of the paths ``commit`` adds or changes against its first parent."""
    base = _first_parent_tree(commit)
    tree = commit.tree
    diff = base.diff_to_tree(tree) if base is not None else tree.diff_to_tree(swap=True)
    sha = str(commit.id)
    for delta in diff.deltas:
        if delta.status == DeltaStatus.DELETED:
            continue
        raw = delta.new_file.raw_path
        found = path_problem(raw, delta.new_file.mode)
        if found is not None:
            yield Problem(sha, shown(raw), *found)


def push_problems(repo: pygit2.Repository, shas: Iterable[str]) -> list[Problem]:
    """Problems of every pushed commit (each once), at most ``MAX_PROBLEMS``."""
    out: list[Problem] = []
    for sha in dict.fromkeys(shas):
        commit = repo.get(sha)
        if not isinstance(commit, pygit2.Commit):
            continue
        for problem in commit_problems(repo, commit):
            out.append(problem)
            if len(out) >= MAX_PROBLEMS:
                return out
    return out
