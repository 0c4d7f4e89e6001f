"""Signature status of pushed commits and annotated tags: "none", "good" or "bad".

Commits: ``commit.gpg_signature`` (libgit2's signature extraction) gives the ``gpgsig``
header and the signed payload. Annotated tags carry the signature at the end of their
message; the payload is the raw tag object up to the line where the armour begins.

Only SSH signatures (``-----BEGIN SSH SIGNATURE-----``) can be good. The check is
``ssh-keygen -Y check-novalidate -n git -s <sig> < <payload>``: it proves the signature is
valid for the key embedded in it, without deciding whether that key is trusted — that is
the API's job, which compares the signer's fingerprint (``SHA256:…``, parsed from
ssh-keygen's ``Good "git" signature with ED25519 key SHA256:…``) with the pusher's
registered keys. A failing check, an unparsable answer, or any other signature format (GPG,
X.509) is "bad"; no signature is "none".
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pygit2

log = logging.getLogger(__name__)

NONE, GOOD, BAD = "none", "good", "bad"
SSH_ARMOR = b"-----BEGIN SSH SIGNATURE-----"
_ARMORS = (SSH_ARMOR, b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN SIGNED MESSAGE-----")
_FINGERPRINT = re.compile(r"\b(SHA256:[A-Za-z0-9+/=]+)")
TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Status:
    signature: str
    fingerprint: str = ""


UNSIGNED = Status(NONE)


def check_ssh(signature: bytes, payload: bytes, *, namespace: str = "git") -> Status:
    """Verify an SSH signature over ``payload`` with ``ssh-keygen -Y check-novalidate``."""
    if not signature.lstrip().startswith(SSH_ARMOR):
        return Status(BAD)
    with tempfile.TemporaryDirectory(prefix="gitstore-sig-") as tmp:
        sig_file = Path(tmp) / "payload.sig"
        sig_file.write_bytes(signature)
        try:
            done = subprocess.run(
                ["ssh-keygen", "-Y", "check-novalidate", "-n", namespace, "-s", str(sig_file)],
                input=payload,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("ssh-keygen could not check a signature: %s", exc)
            return Status(BAD)
    if done.returncode != 0:
        return Status(BAD)
    found = _FINGERPRINT.search(done.stdout.decode(errors="replace"))
    return Status(GOOD, found.group(1)) if found else Status(BAD)


def commit_status(commit: pygit2.Commit) -> Status:
    extracted = commit.gpg_signature
    if extracted is None or extracted[0] is None:
        return UNSIGNED
    signature, payload = extracted
    return check_ssh(bytes(signature), bytes(payload))


def split_tag(raw: bytes) -> tuple[bytes, bytes] | None:
    """``(signature, payload)`` of a raw tag object, or None when it is unsigned."""
    start = -1
    for armor in _ARMORS:
        at = raw.rfind(b"\n" + armor)
        if at > start:
            start = at
    if start < 0:
        return None
    return raw[start + 1 :], raw[: start + 1]


def tag_status(tag: pygit2.Tag) -> Status:
    found = split_tag(tag.read_raw())
    if found is None:
        return UNSIGNED
    signature, payload = found
    return check_ssh(signature, payload)
