"""Commit and tag metadata: signatures, messages and the git trailer block.

Messages are written as ``<message>\\n\\n<trailers>\\n`` where the trailer block has one
``Key: value`` line per non-empty trailer, in this order: ``Actor``, ``Request-Id``,
``Idempotency-Key``, ``Schema-Version``, then the extra trailers sorted by key. That is the
format ``git interpret-trailers`` reads, so ``git log --format=%(trailers)`` shows them too.

Reading is the inverse and deliberately simple: the trailer block is the last paragraph of
the message if every one of its lines is ``Key: value`` (key of letters, digits, ``-``);
``subject`` is the message without that block. A repeated key keeps its last value.

Every value must fit on one line (a newline would end the block early and forge a
trailer), keys are trailer tokens, and signatures must have a name and an email without
``<``, ``>`` or line breaks: anything else is ``InvalidArgument`` naming the field.
"""

from __future__ import annotations

import re
import time

import pygit2

from gitstore.domain.errors import InvalidArgument
from gitstore.git.v1 import git_service_pb2 as pb

MAX_MESSAGE_BYTES = 64 * 1024
MAX_TRAILER_VALUE = 1024
MAX_SIGNATURE_FIELD = 256
STANDARD_TRAILERS = ("Actor", "Request-Id", "Idempotency-Key", "Schema-Version")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*): ?(.*)")


def _single_line(value: str, field: str, limit: int) -> str:
    if any(ch in value for ch in "\n\r\x00"):
        raise InvalidArgument(f"{field} must be a single line without NUL bytes", field=field)
    if len(value) > limit:
        raise InvalidArgument(f"{field} is longer than {limit} characters", field=field)
    return value


def trailer_pairs(trailers: pb.Trailers) -> list[tuple[str, str]]:
    """The validated ``(key, value)`` lines to write, empty values left out."""
    standard = (
        trailers.actor,
        trailers.request_id,
        trailers.idempotency_key,
        trailers.schema_version,
    )
    pairs = [(k, v) for k, v in zip(STANDARD_TRAILERS, standard, strict=True) if v]
    reserved = {key.lower() for key in STANDARD_TRAILERS}
    for key in sorted(trailers.extra):
        if not _KEY.fullmatch(key):
            raise InvalidArgument(
                f"trailer key {key!r} must be letters, digits and '-' (at most 64)",
                field="trailers.extra",
            )
        if key.lower() in reserved:
            raise InvalidArgument(
                f"trailer {key!r} must be set through its own field, not extra",
                field="trailers.extra",
            )
        value = trailers.extra[key]
        if value:
            pairs.append((key, value))
    for key, value in pairs:
        _single_line(value, f"trailer {key}", MAX_TRAILER_VALUE)
    return pairs


def compose_message(message: str, trailers: pb.Trailers, field: str = "message") -> str:
    """Validate ``message`` (non-empty) and append the trailer block."""
    body = message.strip("\n").rstrip()
    if not body.strip():
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if "\x00" in body:
        raise InvalidArgument(f"{field} must not contain NUL bytes", field=field)
    if len(body.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise InvalidArgument(f"{field} is longer than {MAX_MESSAGE_BYTES} bytes", field=field)
    pairs = trailer_pairs(trailers)
    if not pairs:
        return body + "\n"
    return body + "\n\n" + "".join(f"{key}: {value}\n" for key, value in pairs)


def split_message(message: str) -> tuple[str, dict[str, str]]:
    """``(message without the trailer block, trailers)``."""
    text = message.rstrip()
    head, sep, last = text.rpartition("\n\n")
    if not sep:
        return text, {}
    matches = [_LINE.fullmatch(line) for line in last.split("\n")]
    if not all(matches):
        return text, {}
    found = {m.group(1): m.group(2) for m in matches if m is not None}
    return head.rstrip(), found


def signature(sig: pb.Signature, field: str) -> pygit2.Signature:
    """A ``pygit2.Signature`` from the request; time 0 means now."""
    name = _single_line(sig.name.strip(), f"{field}.name", MAX_SIGNATURE_FIELD)
    email = _single_line(sig.email.strip(), f"{field}.email", MAX_SIGNATURE_FIELD)
    if not name:
        raise InvalidArgument(f"{field}.name is required", field=f"{field}.name")
    if not email:
        raise InvalidArgument(f"{field}.email is required", field=f"{field}.email")
    for what, value in (("name", name), ("email", email)):
        if "<" in value or ">" in value:
            raise InvalidArgument(f"{field}.{what} must not contain '<' or '>'")
    if not -720 <= sig.offset_minutes <= 840:
        raise InvalidArgument(f"{field}.offset_minutes must be between -720 and 840")
    if sig.time < 0:
        raise InvalidArgument(f"{field}.time must not be negative")
    when = sig.time or int(time.time())
    return pygit2.Signature(name, email, when, sig.offset_minutes)


def signature_pb(sig: pygit2.Signature) -> pb.Signature:
    return pb.Signature(name=sig.name, email=sig.email, time=sig.time, offset_minutes=sig.offset)


def commit_info(commit: pygit2.Commit) -> pb.CommitInfo:
    message = commit.message
    subject, trailers = split_message(message)
    return pb.CommitInfo(
        sha=str(commit.id),
        parent_shas=[str(p) for p in commit.parent_ids],
        tree_sha=str(commit.tree_id),
        author=signature_pb(commit.author),
        committer=signature_pb(commit.committer),
        message=message,
        subject=subject,
        trailers=trailers,
    )


def tag_object(
    target: str, target_type: str, tag: str, tagger: pygit2.Signature, msg: str
) -> bytes:
    """The raw bytes of an annotated tag object (written with the odb, without a ref)."""
    minutes = tagger.offset
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    header = (
        f"object {target}\ntype {target_type}\ntag {tag}\n"
        f"tagger {tagger.name} <{tagger.email}> {tagger.time} {zone}\n\n"
    )
    return (header + msg).encode("utf-8")
