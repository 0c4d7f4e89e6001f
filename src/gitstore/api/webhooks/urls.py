"""Which webhook URLs are acceptable.

At registration (and again before every attempt, since DNS answers change):

* ``http`` or ``https`` only, with a host; no ``user:password@`` (secrets belong in the
  signing secret, not in a URL that is shown in listings and logs); no fragment; at most
  ``MAX_URL`` characters;
* unless ``settings.webhook.allow_private`` is true, the host must not be — or resolve to — a
  loopback, private, link-local, multicast, reserved or unspecified address (``localhost``,
  ``127.0.0.1``, ``10.0.0.0/8``, ``169.254.169.254`` ...): the API must not become a way to
  reach the inside of its own network. Every address the name resolves to is checked. A name
  that does not resolve is refused at registration; at delivery time it is a failed attempt.

Checking before each attempt narrows but cannot close a DNS-rebinding window between the
check and the connection; deployments that need that closed put webhook egress behind a
proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from gitstore.domain.errors import InvalidArgument

MAX_URL = 2048


def check_url_shape(url: str) -> str:
    """The URL trimmed, or ``InvalidArgument`` (field ``url``) saying what is wrong."""
    text = (url or "").strip()
    if not text or len(text) > MAX_URL:
        raise InvalidArgument(f"url must be 1..{MAX_URL} characters", field="url")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"url {text!r} is not a valid URL ({exc})", field="url") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument(f"url {text!r} must use http or https", field="url")
    if not parts.hostname:
        raise InvalidArgument(f"url {text!r} has no host", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument(
            "url must not carry credentials (user:password@); deliveries are signed with the"
            " webhook's secret instead",
            field="url",
        )
    if parts.fragment:
        raise InvalidArgument(f"url {text!r} must not have a #fragment", field="url")
    if port == 0:
        raise InvalidArgument(f"url {text!r} has port 0", field="url")
    return text


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_destination(url: str, *, allow_private: bool) -> None:
    """``InvalidArgument`` unless ``url``'s host is a public address (or private ones are
    allowed)."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            addresses = ["127.0.0.1"]
        else:
            addresses = await _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    bad = sorted({a for a in addresses if _forbidden(a)})
    if bad:
        raise InvalidArgument(
            f"url host {host!r} is (or resolves to) a loopback or private address"
            f" ({', '.join(bad)}); webhooks must reach a public address (setting"
            " webhook.allow_private allows others)",
            field="url",
        )


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise InvalidArgument(f"url host {host!r} does not resolve ({exc})", field="url") from None
    return [str(info[4][0]) for info in infos]
