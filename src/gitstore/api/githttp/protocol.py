"""The HTTP side of git's smart protocol (gitprotocol-http): names, media types, framing.

* Services: ``git-upload-pack`` (clone, fetch) and ``git-receive-pack`` (push). The dumb
  protocol (``info/refs`` without ``?service=``, loose objects over GET) is not served.
* ``GET info/refs?service=S`` answers ``application/x-git-S-advertisement``; for protocol
  v0/v1 the body starts with the pkt-line ``# service=S\\n`` and a flush-pkt, then git's
  advertisement. A client asking for v2 (``Git-Protocol: version=2``) gets git's v2
  capability advertisement as it is, without that header (as ``git http-backend`` does).
* ``POST S`` takes ``application/x-git-S-request`` and answers ``application/x-git-S-result``.
  A request body with ``Content-Encoding: gzip`` (git compresses big fetch negotiations) is
  inflated chunk by chunk as it streams, never as a whole.
* ``Git-Protocol`` is passed on to git as ``GIT_PROTOCOL``; only the characters git itself
  uses (``version=2:object-format=sha1``) are accepted, anything else is ignored.
* Responses are never cached (``Cache-Control: no-cache, max-age=0, must-revalidate``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterator

from gitstore.domain.errors import InvalidArgument

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
SERVICES = (UPLOAD_PACK, RECEIVE_PACK)

NO_CACHE = {
    "Cache-Control": "no-cache, max-age=0, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "Fri, 01 Jan 1980 00:00:00 GMT",
}

_GIT_PROTOCOL = re.compile(r"[A-Za-z0-9=:._,-]{1,256}")
# Output of inflating one input chunk is handed on in pieces of at most this size.
_INFLATE_PIECE = 256 * 1024


def advertisement_type(service: str) -> str:
    return f"application/x-git-{service.removeprefix('git-')}-advertisement"


def request_type(service: str) -> str:
    return f"application/x-git-{service.removeprefix('git-')}-request"


def result_type(service: str) -> str:
    return f"application/x-git-{service.removeprefix('git-')}-result"


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


FLUSH = b"0000"


def service_header(service: str) -> bytes:
    """``# service=S`` pkt-line + flush: what a v0/v1 HTTP advertisement starts with."""
    return pkt_line(f"# service={service}\n") + FLUSH


def git_protocol(header: str | None) -> str:
    """The ``Git-Protocol`` header if it is well formed, else ``""``."""
    if header is None or not _GIT_PROTOCOL.fullmatch(header.strip()):
        return ""
    return header.strip()


def wants_v2(protocol: str) -> bool:
    return "version=2" in protocol.split(":")


async def inflate(chunks: AsyncIterator[bytes], encoding: str | None) -> AsyncIterator[bytes]:
    """The request body, gunzipped on the fly for ``Content-Encoding: gzip``/``x-gzip``."""
    name = (encoding or "").strip().lower()
    if name in ("", "identity"):
        async for chunk in chunks:
            yield chunk
        return
    if name not in ("gzip", "x-gzip"):
        raise InvalidArgument(f"Content-Encoding {name!r} is not supported (use gzip or none)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        async for chunk in chunks:
            data = chunk
            while data:
                piece = inflater.decompress(data, _INFLATE_PIECE)
                if piece:
                    yield piece
                data = inflater.unconsumed_tail
        tail = inflater.flush()
    except zlib.error as exc:
        raise InvalidArgument(f"the gzip request body is corrupt: {exc}") from None
    if tail:
        yield tail
    if not inflater.eof:
        raise InvalidArgument("the gzip request body is truncated")
