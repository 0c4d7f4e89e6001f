"""The HMAC key that signs login tokens: configured, or generated once and kept on disk.

``GITSTORE_API__JWT_SECRET`` wins when set; it must be at least as long as the algorithm's
digest (32 bytes for HS256, 48 for HS384, 64 for HS512), because a short HMAC key can be
brute-forced. Otherwise ``<data_dir>/jwt-secret`` holds the key: created on first start with
86 random URL-safe characters (512 bits, enough for every HS algorithm), mode 0600, written to
a temporary file and hard-linked into place so that two processes starting together agree on
one key and no reader ever sees a half-written file. The file's text is the key, so copying it
into ``GITSTORE_API__JWT_SECRET`` gives the same key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

from gitstore.domain.errors import InvalidArgument

log = logging.getLogger(__name__)

KEY_FILE = "jwt-secret"
MIN_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def load_signing_key(configured: str | None, data_dir: Path, algorithm: str) -> bytes:
    needed = MIN_KEY_BYTES[algorithm]
    if configured:
        key = configured.encode("utf-8")
        if len(key) < needed:
            raise InvalidArgument(
                f"GITSTORE_API__JWT_SECRET is {len(key)} bytes; {algorithm} needs at least"
                f" {needed}",
                field="api.jwt_secret",
            )
        return key
    path = data_dir / KEY_FILE
    key = _read(path) if path.exists() else _create(path)
    if len(key) < needed:
        raise InvalidArgument(
            f"{path} holds a {len(key)}-byte key; {algorithm} needs at least {needed}",
            field="api.jwt_secret",
        )
    return key


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); it should be 0600", path, mode)
    key = path.read_bytes().strip()
    if not key:
        raise InvalidArgument(f"{path} is empty; delete it to generate a new key")
    return key


def _create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(64).encode("ascii")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read(path)  # another process won the race: use its key
        log.info("generated a new JWT signing key in %s", path)
        return key
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
