"""Where ProVoice may send requests of its own (webhooks): public http(s) hosts only.

A user-supplied URL is checked when it is set and again, after DNS resolution, when it is used,
and the request then goes to the address that was checked (no second lookup a DNS-rebinding
server could answer differently). Loopback, private, link-local (the cloud metadata address
169.254.169.254), multicast, reserved and unspecified addresses are refused unless the host is
listed in `PROVOICE_WEBHOOK_ALLOW_HOSTS`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from provoice.errors import InvalidSource


class DestinationRefused(InvalidSource):
    """A URL ProVoice will not send requests to; the message names the rule."""


@dataclass(frozen=True)
class Destination:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def _why_not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, name in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local (cloud metadata)"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not globally routable"),
    ):
        if test:
            return name
    return None


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or DestinationRefused naming what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"webhook URL is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused(f"webhook URL must be http:// or https://, not {parts.scheme or 'no scheme'}")
    if not parts.hostname:
        raise DestinationRefused("webhook URL has no host")
    if parts.username or parts.password:
        raise DestinationRefused("webhook URL must not carry a user name or password")
    return parts.scheme, parts.hostname.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80)


def check_destination(url: str, allow_hosts: Sequence[str] = (), *, resolve: bool = True) -> Destination:
    """The URL's checked destination; DestinationRefused with the rule it breaks. Without `resolve`,
    only what the URL itself says is checked (a host name is checked when it is used)."""
    scheme, host, port = parse_url(url)
    allowed = host in {h.lower().rstrip(".") for h in allow_hosts}
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    elif host == "localhost" or host.endswith(".localhost"):
        if not allowed:
            raise DestinationRefused(
                f"webhook host {host} is loopback; list it in PROVOICE_WEBHOOK_ALLOW_HOSTS to allow it"
            )
        addresses = ["127.0.0.1"]
    elif not resolve:
        return Destination(url, scheme, host, port, host)
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise DestinationRefused(f"webhook host {host} does not resolve: {exc.strerror}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allowed:
        for address in addresses:
            why = _why_not_public(ipaddress.ip_address(address))
            if why:
                shown = host if host == address else f"{host} ({address})"
                raise DestinationRefused(
                    f"webhook host {shown} is a {why} address; ProVoice only calls public "
                    "hosts (list it in PROVOICE_WEBHOOK_ALLOW_HOSTS to allow it)"
                )
    return Destination(url, scheme, host, port, addresses[0])
