"""Parsing the command an SSH client asks to run: only git's two pack services, strictly.

A git client over SSH runs ``git-upload-pack '<path>'`` (fetch/clone) or
``git-receive-pack '<path>'`` (push); with ``remote.<name>.uploadpack``/``receivepack`` it
may send the dashless ``git upload-pack '<path>'``. Nothing here ever reaches a shell: the
command is matched as a whole against that grammar and the repository is named only by a
``RepositoryId`` built from two validated DNS labels, so ``;``, ``$(...)``, backquotes,
``..``, extra arguments, options, a second quoted word, double quotes, backslash escapes,
control characters and anything else outside the grammar are refused before anything runs.

Grammar (the path is single-quoted as git's ``sq_quote`` writes it, and a path git would
quote with ``'\\''`` never names a valid repository, so no unquoting is needed)::

    command := service " '" path "'"
    service := "git-upload-pack" | "git-receive-pack" | "git upload-pack" | "git receive-pack"
    path    := ["/"] namespace "/" name [".git"]      (namespace, name: DNS labels)

Refusals raise ``CommandRefused`` whose message is the line shown to the client:
``gitstore: only git-upload-pack and git-receive-pack are allowed`` for any other command,
``gitstore: invalid repository path...`` saying what is wrong for a bad path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from gitstore.domain.errors import InvalidArgument
from gitstore.domain.identity import RepositoryId, dns_label_problem

ONLY_GIT = "gitstore: only git-upload-pack and git-receive-pack are allowed"
MAX_COMMAND = 1024
_SHOWN = 120

_COMMAND = re.compile(r"git[- ](upload-pack|receive-pack) (.*)", re.DOTALL)


class GitService(Enum):
    UPLOAD_PACK = "upload-pack"
    RECEIVE_PACK = "receive-pack"

    @property
    def program(self) -> str:
        """The git subcommand (``git <program> <repo>``)."""
        return self.value


class CommandRefused(InvalidArgument):
    """The session's command is not one we run; ``message`` is shown to the client."""


@dataclass(frozen=True, slots=True)
class GitCommand:
    service: GitService
    repository: RepositoryId


def _shown(text: str) -> str:
    """``text`` safe to echo back: printable ASCII only, truncated."""
    cleaned = "".join(c if c.isascii() and c.isprintable() else "?" for c in text)
    return cleaned if len(cleaned) <= _SHOWN else cleaned[:_SHOWN] + "..."


def parse_git_command(command: str | None) -> GitCommand:
    """The service and repository ``command`` asks for, or ``CommandRefused``."""
    if command is None or len(command) > MAX_COMMAND:
        raise CommandRefused(ONLY_GIT, field="command")
    match = _COMMAND.fullmatch(command)
    if match is None:
        raise CommandRefused(ONLY_GIT, field="command")
    service = GitService(match.group(1))
    argument = match.group(2)
    if len(argument) < 2 or argument[0] != "'" or argument[-1] != "'" or "'" in argument[1:-1]:
        raise CommandRefused(
            "gitstore: invalid repository path: expected one single-quoted path like "
            f"'/<namespace>/<repository>.git', got {_shown(argument)!r}",
            field="path",
        )
    return GitCommand(service, parse_repository_path(argument[1:-1]))


def parse_repository_path(path: str) -> RepositoryId:
    """``[/]<namespace>/<name>[.git]`` as a ``RepositoryId``, or ``CommandRefused``."""
    shown = _shown(path)
    relative = path[1:] if path.startswith("/") else path
    if relative.endswith(".git"):
        relative = relative[: -len(".git")]
    parts = relative.split("/")
    if len(parts) != 2:
        raise CommandRefused(
            f"gitstore: invalid repository path '{shown}': expected /<namespace>/<repository>.git",
            field="path",
        )
    for value, what in zip(parts, ("namespace", "repository name"), strict=True):
        problem = dns_label_problem(value)
        if problem is not None:
            raise CommandRefused(
                f"gitstore: invalid repository path '{shown}': {what} {problem}", field="path"
            )
    return RepositoryId(parts[0], parts[1])
