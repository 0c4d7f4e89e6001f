"""SSH public keys of users: parsing, fingerprints, and the add / list / remove actions.

A user registers OpenSSH public key lines (what ``~/.ssh/id_ed25519.pub`` holds) and then
uses git over SSH; the git service asks the API's hook service who a presented key belongs to
(by fingerprint). The rules:

* Accepted types: ``ssh-ed25519``, ``ecdsa-sha2-nistp256/384/521`` and ``ssh-rsa`` of at least
  2048 bits. Anything else is refused with an ``InvalidArgument`` naming ``publicKey``: DSA,
  certificates, security-key types, a private key pasted by mistake (the message says so),
  a line that is not ``<type> <base64> [comment]`` or whose base64 does not decode to a key
  of the named type.
* Stored form: ``"<type> <base64>"`` without the comment; the comment is the default title.
* Fingerprint: ``SHA256:`` + unpadded base64 of the SHA-256 of the key blob, exactly what
  ``ssh-keygen -lf key.pub`` prints (computed by asyncssh).
* A fingerprint is unique across all users: registering a key someone already registered is
  ``AlreadyExists`` (``ALREADY_EXISTS`` user error on ``publicKey``) without saying whose.
* Adding a key mints a credential, so (like creating an access token) it needs a login token,
  not a personal access token. Listing and removing need an authenticated caller; a caller
  sees and removes only their own keys.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import asyncssh

from gitstore.backends.metadata.base import MetadataStore
from gitstore.backends.metadata.base_git import SshKey
from gitstore.domain.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied

from .principal import Principal

FIELD = "publicKey"
ALLOWED_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
MIN_RSA_BITS = 2048
MAX_TITLE = 100
MAX_LINE = 16 * 1024


@dataclass(frozen=True, slots=True)
class ParsedKey:
    algorithm: str
    public_key: str  # "<type> <base64>"
    fingerprint: str  # "SHA256:..."
    comment: str
    bits: int


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(message, field=FIELD)


def parse_public_key(text: str) -> ParsedKey:
    """One OpenSSH public key line, checked (see the module docstring)."""
    line = text.strip()
    if not line:
        raise _invalid("publicKey is empty: paste the contents of your .pub file")
    if "PRIVATE KEY" in line:
        raise _invalid("publicKey is a PRIVATE key: never share it; paste the .pub file instead")
    if len(line) > MAX_LINE or "\n" in line:
        raise _invalid("publicKey must be one OpenSSH public key line")
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise _invalid("publicKey must look like '<type> <base64> [comment]'")
    algorithm, blob_text = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) == 3 else ""
    if algorithm not in ALLOWED_TYPES:
        raise _invalid(
            f"SSH key type {algorithm[:40]!r} is not supported "
            f"(use ssh-ed25519, ecdsa-sha2-nistp256/384/521, or ssh-rsa of {MIN_RSA_BITS}+ bits)"
        )
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("publicKey: the key data is not valid base64") from None
    try:
        key = asyncssh.import_public_key(f"{algorithm} {blob_text}")
    except (asyncssh.KeyImportError, ValueError):
        raise _invalid(f"publicKey: the data is not a valid {algorithm} public key") from None
    if key.algorithm.decode() != algorithm or key.public_data != blob:
        raise _invalid(f"publicKey: the data is not a valid {algorithm} public key")
    bits = int(getattr(key.pyca_key, "key_size", 256))
    if algorithm == "ssh-rsa" and bits < MIN_RSA_BITS:
        raise _invalid(f"RSA keys need at least {MIN_RSA_BITS} bits (this one has {bits})")
    return ParsedKey(
        algorithm=algorithm,
        public_key=f"{algorithm} {blob_text}",
        fingerprint=key.get_fingerprint("sha256"),
        comment=comment,
        bits=bits,
    )


def normalise(text: str) -> str | None:
    """``"<type> <base64>"`` of a public key line (None if it is not one we accept)."""
    try:
        return parse_public_key(text).public_key
    except InvalidArgument:
        return None


def _title(title: str | None, parsed: ParsedKey) -> str:
    value = (title or "").strip() or parsed.comment or parsed.algorithm
    if len(value) > MAX_TITLE:
        raise InvalidArgument(f"title must be at most {MAX_TITLE} characters", field="title")
    return value


async def add_ssh_key(
    store: MetadataStore, actor: Principal, public_key: str, title: str | None = None
) -> SshKey:
    if actor.via != "jwt":
        raise PermissionDenied("adding an SSH key needs a login token, not an access token")
    parsed = parse_public_key(public_key)
    try:
        return await store.add_ssh_key(
            actor.user_id,
            title=_title(title, parsed),
            public_key=parsed.public_key,
            fingerprint=parsed.fingerprint,
        )
    except AlreadyExists:
        raise AlreadyExists(
            f"the SSH key {parsed.fingerprint} is already registered", field=FIELD
        ) from None


async def list_ssh_keys(store: MetadataStore, actor: Principal) -> list[SshKey]:
    return await store.list_ssh_keys(actor.user_id)


async def remove_ssh_key(store: MetadataStore, actor: Principal, key_id: str) -> SshKey:
    """Remove one of the caller's keys; ``NotFound`` (field ``id``) if they have no such key."""
    key = next((k for k in await store.list_ssh_keys(actor.user_id) if k.id == key_id), None)
    if key is None or not await store.remove_ssh_key(actor.user_id, key_id):
        raise NotFound(f"you have no SSH key with id {key_id!r}", field="id")
    return key
