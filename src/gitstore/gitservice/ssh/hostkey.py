"""The SSH host key: one ed25519 key, made once, kept in an OpenSSH private key file.

Clients pin the host key on first contact (``known_hosts``), so it must survive restarts:
``load_or_create_host_key(path)`` reads the file when it exists and otherwise generates a
key and writes it atomically (a temporary file created with mode 0600 in the same
directory, fsynced, then hard-linked to the final name, which fails rather than replaces:
a concurrent starter that loses the race reads the winner's key instead of overwriting
it). An existing key file readable by group or others is used but logged as a warning; a
file that is not a valid private key is an error naming the path (never silently
replaced: that would change the host identity).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

import asyncssh

from gitstore.domain.errors import FailedPrecondition

log = logging.getLogger(__name__)

KEY_ALGORITHM = "ssh-ed25519"


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """The host key stored at ``path``, generated (ed25519, mode 0600) if missing."""
    if not path.exists():
        _create(path)
    try:
        mode = path.stat().st_mode
        key = asyncssh.read_private_key(str(path))
    except (OSError, asyncssh.KeyImportError) as exc:
        raise FailedPrecondition(f"cannot read the SSH host key {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the SSH host key %s is accessible by group/others (mode %o)", path, mode)
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key(KEY_ALGORITHM, comment="gitstore host key")
    data = key.export_private_key("openssh")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # fails if another process made the key meanwhile
        except FileExistsError:
            return
        log.info("generated SSH host key %s (%s)", path, key.get_fingerprint("sha256"))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
